"""Image-GAN settings that depend on the data set as well as the model, shared by the CLI and the benchmark.

:func:`genplay.generative.images.trainer.preset` holds each model's defaults, measured on digits. A
data set whose measurements disagree gets its own settings here, over the model's preset, so
``genplay images train --dataset D`` and ``scripts/bench_images.py --dataset D`` run the same thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genplay.generative.images.trainer import ImageGANConfig, preset

DATASET_SETTINGS: dict[tuple[str, str], dict[str, Any]] = {
    # MNIST-5k's cgan halves the mode-seeking weight: at 2.0 (the preset, chosen on digits) its 3000-update
    # runs on seeds 0 / 1 kept recall 0.92 / 0.91 but drew the wrong digit too often (label accuracy 0.93 /
    # 0.92, under issue 32's 0.95) and seed 1 reached FID 3.6x real-vs-real; at 1.0, seeds 0 / 1 / 2: recall
    # 0.89 / 0.90 / 0.90, FID 2.0 / 2.3 / 2.4x, label accuracy 0.955 / 0.959 / 0.959 (the metric classifier
    # reads real digits at 0.968), and it needs 3000 updates: 0.935 / 0.935 at 2000 on seeds 0 / 2
    # (bench_results/images_s8.jsonl).
    ("mnist5k", "cgan"): {"mode_seeking": 1.0},
}
"""Settings per (data set, model) over the model's preset, where a data set measured otherwise."""


def dataset_preset(model: str, dataset: str | Path, **overrides: Any) -> ImageGANConfig:
    """The model's preset, then ``dataset``'s measured settings (a built-in name; an ``.npz`` gets none),
    then ``overrides``: the last wins, so a flag a user gives always holds."""
    return preset(model, **{**DATASET_SETTINGS.get((str(dataset), model), {}), **overrides})
