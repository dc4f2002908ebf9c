"""Adversarial text generation on the shared core (SeqGAN-style, trained like GAIL)."""
