"""Files that must survive and never run code: checkpoints and SB3 zips as settings + weights."""
