"""GAIL for games: trainer, discriminator, demonstrations, experts and evaluation."""

from genplay.gail.collect import collect_demos
from genplay.gail.config import GAILConfig, PPOConfig, preset
from genplay.gail.demos import Demos, load_demos, save_demos
from genplay.gail.evaluate import compare, episode_returns
from genplay.gail.experts import load_expert, train_expert
from genplay.gail.trainer import GAIL

__all__ = [
    "GAIL",
    "Demos",
    "GAILConfig",
    "PPOConfig",
    "collect_demos",
    "compare",
    "episode_returns",
    "load_demos",
    "load_expert",
    "preset",
    "save_demos",
    "train_expert",
]
