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
    # MNIST-5k's DCGAN needs 2500 updates: FID 5.54x / 3.88x / 2.97x / 2.40x real-vs-real at 1k / 1.5k / 2k / 2.5k on
    # seed 0, 3.00x / 3.04x at 2000 on seeds 1 / 2; at 2500, seeds 0 / 1 / 2: 2.40 / 2.35 / 2.45x, recall 0.88 / 0.89 /
    # 0.86 (bench_results/images_s8.jsonl).
    ("mnist5k", "dcgan"): {"steps": 2500},
    # MNIST-5k's cgan halves the mode-seeking weight: at 2.0 (the preset, chosen on digits) its 3000-update
    # runs on seeds 0 / 1 kept recall 0.92 / 0.91 but drew the wrong digit too often (label accuracy 0.93 /
    # 0.92, under issue 32's 0.95) and seed 1 reached FID 3.6x real-vs-real; at 1.0, seeds 0 / 1 / 2: recall
    # 0.89 / 0.90 / 0.90, FID 2.0 / 2.3 / 2.4x, label accuracy 0.955 / 0.959 / 0.959 (the metric classifier
    # reads real digits at 0.968), and it needs 3000 updates: 0.935 / 0.935 at 2000 on seeds 0 / 2
    # (bench_results/images_s8.jsonl).
    ("mnist5k", "cgan"): {"mode_seeking": 1.0, "steps": 3000},
    # MNIST-5k's WGAN-GP steps at 3e-4, three times Gulrajani et al.'s 1e-4 (still 5 critic steps, Adam (0, 0.9)): at
    # 1e-4 seed 0 was at FID 74x real-vs-real (recall 0.01) after 250 updates and 14.5x (recall 0.50) after 500, a
    # converged run hours away on a CPU; at 3e-4 it is at 6.0x / 3.8x / 2.7x after 500 / 750 / 1000. Seeds 0 / 1 / 2 at
    # 1000: FID 2.70 / 2.54 / 2.93x, recall 0.89 / 0.87 / 0.89 (bench_results/images_s9.jsonl). n_critic 1 at 1e-3
    # (DCGAN's step) was at 15x after 1000 updates.
    ("mnist5k", "wgan-gp"): {"lr_generator": 3e-4, "lr_critic": 3e-4, "steps": 1000},
}
"""Settings per (data set, model) over the model's preset, where a data set measured otherwise."""


def dataset_preset(model: str, dataset: str | Path, **overrides: Any) -> ImageGANConfig:
    """The model's preset, then ``dataset``'s measured settings (a built-in name; an ``.npz`` gets none),
    then ``overrides``: the last wins, so a flag a user gives always holds."""
    return preset(model, **{**DATASET_SETTINGS.get((str(dataset), model), {}), **overrides})
