"""genplay: GAIL for games and GAN-style generation on one shared adversarial core."""

__version__ = "0.1.0"
