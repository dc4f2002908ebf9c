"""Evaluate a trained image generator against held-out real data; write sample grids.

``evaluate_generator`` returns the metrics JSON of ``genplay images evaluate`` and of the
benchmark: classifier-FID (with the real-vs-real and noise references), classifier-IS,
k-NN precision/recall, label accuracy of a conditional generator, generation speed, and
the augmentation test.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from genplay.generative.core import atomic_write
from genplay.generative.core.progress import Heartbeat
from genplay.generative.images.data import ImageData, per_class_subset
from genplay.generative.images.metrics import (
    DigitClassifier,
    accuracy,
    classifier_fid,
    classifier_is,
    features,
    precision_recall,
    train_classifier,
)
from genplay.generative.images.models import Generator
from genplay.generative.images.trainer import sample


def metric_classifier(
    data: ImageData, *, seed: int = 0, steps: int = 3000, progress: bool = False
) -> tuple[DigitClassifier, float]:
    """The feature network of every metric: trained on the training split; returns it and its held-out accuracy.

    ``progress``: a line at least every 10 s while it trains (the longest phase of ``images evaluate``).
    """
    beat = Heartbeat("metric classifier", steps) if progress else None
    x, y = data.train_images, data.train_labels
    clf = train_classifier(x, y, n_classes=data.n_classes, steps=steps, seed=seed, heartbeat=beat)
    return clf, accuracy(clf, data.test_images, data.test_labels)


def image_metrics(classifier: DigitClassifier, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
    """FID, IS and precision/recall of ``fake`` against ``real`` in the classifier's feature space."""
    p, r = precision_recall(features(classifier, real), features(classifier, fake))
    return {
        "classifier_fid": classifier_fid(classifier, real, fake),
        "classifier_is": classifier_is(classifier, fake),
        "precision": p,
        "recall": r,
    }


def evaluate_generator(
    generator: Generator, data: ImageData, classifier: DigitClassifier, *, seed: int = 0
) -> dict[str, float]:
    """All metrics of ``generator`` against the held-out split, with as many samples as held-out images."""
    test = data.test_images
    n = len(test)
    t0 = time.perf_counter()
    fake = sample(generator, n, seed=seed)
    seconds = time.perf_counter() - t0
    noise = torch.rand(n, *data.shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    out = {
        **image_metrics(classifier, test, fake),
        "real_vs_real_fid": classifier_fid(classifier, test, data.train_images[:n]),
        "noise_fid": classifier_fid(classifier, test, noise),
        "real_is": classifier_is(classifier, test),
        "n_samples": n,
        "samples_per_second": n / seconds,
    }
    if generator.n_classes:
        labels = torch.arange(n) % generator.n_classes
        out["label_accuracy"] = accuracy(classifier, sample(generator, n, labels, seed=seed + 1), labels)
    return out


def augmentation_test(
    data: ImageData,
    generator: Generator,
    *,
    per_class: int = 10,
    generated_per_class: int = 100,
    seeds: tuple[int, ...] = (0, 1, 2),
    steps: int = 600,
    progress: bool = False,
) -> dict[str, float | int]:
    """Held-out accuracy of a classifier trained on ``per_class`` real images per class, with and without
    ``generated_per_class`` images per class from the conditional generator (same step budget both ways).

    The subset is ``per_class_subset(data, per_class)``: a generator trained on that same subset
    measures pure augmentation; one trained on the whole training split measures how well it
    passes on what it learnt from more data (say which in any report). ``progress``: a line at
    least every 10 s (a classifier takes a few seconds).
    """
    if not generator.n_classes:
        raise ValueError("the augmentation test needs a class-conditional generator")
    k = data.n_classes
    small = per_class_subset(data, per_class)
    x_real, y_real = small.train_images, small.train_labels
    real_acc, aug_acc = [], []
    beat = Heartbeat("augmentation test (classifiers)", 2 * len(seeds), enabled=progress)
    for i, s in enumerate(seeds):
        y_gen = torch.arange(k * generated_per_class) % k
        x_gen = sample(generator, len(y_gen), y_gen, seed=1000 + s)
        real_clf = train_classifier(x_real, y_real, n_classes=k, steps=steps, seed=s)
        beat.beat(2 * i + 1)
        x_aug, y_aug = torch.cat([x_real, x_gen]), torch.cat([y_real, y_gen])
        aug_clf = train_classifier(x_aug, y_aug, n_classes=k, steps=steps, seed=s)
        beat.beat(2 * i + 2)
        real_acc.append(accuracy(real_clf, data.test_images, data.test_labels))
        aug_acc.append(accuracy(aug_clf, data.test_images, data.test_labels))
    return {
        "aug_real_per_class": per_class,
        "aug_generated_per_class": generated_per_class,
        "aug_real_only_accuracy": float(np.mean(real_acc)),
        "aug_augmented_accuracy": float(np.mean(aug_acc)),
        "aug_gain": float(np.mean(aug_acc) - np.mean(real_acc)),
    }


def save_grid(images: torch.Tensor, path: str | Path, *, nrow: int = 10, scale: int = 4) -> None:
    """Write images in [-1, 1] ``(N, C, H, W)`` (C = 1 or 3) as one PNG grid, each pixel ``scale`` x ``scale``.

    Tiling is a reshape; matplotlib (already a dependency) writes the PNG, so torchvision is not needed.
    """
    import matplotlib.image

    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    n, c, h, w = x.shape
    ncol = (n + nrow - 1) // nrow
    pad = np.zeros((nrow * ncol - n, c, h, w), np.uint8)
    x = np.concatenate([x, pad]).reshape(ncol, nrow, c, h, w).transpose(0, 3, 1, 4, 2).reshape(ncol * h, nrow * w, c)
    x = x.repeat(scale, axis=0).repeat(scale, axis=1)
    img = x[..., 0] if c == 1 else x
    atomic_write(path, lambda tmp: matplotlib.image.imsave(tmp, img, cmap="gray", vmin=0, vmax=255, format="png"))
