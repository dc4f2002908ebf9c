"""GAIL for games: trainer, discriminator, demonstrations, experts and evaluation."""

from genplay.gail.algos.config import GAILConfig, PPOConfig
from genplay.gail.algos.gail import GAIL
from genplay.gail.algos.presets import preset
from genplay.gail.data.collect import collect_demos
from genplay.gail.data.demos import Demos, load_demos, save_demos
from genplay.gail.data.experts import load_expert, train_expert
from genplay.gail.evaluation.evaluate import compare, episode_returns

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
