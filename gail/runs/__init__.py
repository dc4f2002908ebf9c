"""Run directories: train, resume and export jobs shared by the CLI and the scripts."""
