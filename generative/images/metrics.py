"""Offline quality metrics in the feature space of a small classifier trained on the real data.

Inception-v3 weights cannot be downloaded here (and do not suit 8x8 greyscale digits), so
FID and IS are computed by torchmetrics with our classifier as the custom feature module:
``classifier_fid`` on its penultimate features, ``classifier_is`` on its logits. Numbers are
comparable only under the same classifier; ``real_vs_real_fid`` is the floor to read them by.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore

from genplay.generative.core.builders import down_block
from genplay.generative.core.progress import Heartbeat


class DigitClassifier(nn.Module):
    """``(B, C, H, W) -> logits (B, K)``; ``features`` gives the 64-d penultimate layer used for FID."""

    def __init__(self, *, image_shape: tuple[int, int, int], n_classes: int, n_features: int = 64) -> None:
        super().__init__()
        c, h, w = image_shape
        self.body = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1),  # (B, 32, H, W)
            nn.ReLU(),
            down_block(32, 64, act="relu", kernel=3),  # (B, 64, H/2, W/2)
            down_block(64, 64, act="relu", kernel=3),  # (B, 64, H/4, W/4)
            nn.Flatten(),
            nn.Linear(64 * ((h + 3) // 4) * ((w + 3) // 4), n_features),  # (B, n_features)
            nn.ReLU(),
        )
        self.head = nn.Linear(n_features, n_classes)
        self.num_features = n_features  # read by torchmetrics
        self.register_buffer("feature_scale", torch.ones(()))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations divided by one scale fixed on the training data.

        The scale (root mean per-feature variance of the real training features) makes FID
        unit-free: a distance in units of real-data spread, not of whatever scale this
        classifier happened to learn. One scalar, not per-feature standardisation, so the
        geometry (and k-NN precision/recall) is that of the raw features.
        """
        return self.body(x) / self.feature_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class _Features(nn.Module):
    """The classifier's feature map as the module torchmetrics' FID calls."""

    def __init__(self, classifier: DigitClassifier) -> None:
        super().__init__()
        self.classifier = classifier
        self.num_features = classifier.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier.features(x)


def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    n_classes: int,
    steps: int = 1500,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    heartbeat: Heartbeat | None = None,
) -> DigitClassifier:
    """Fit a ``DigitClassifier`` with Adam for a fixed number of steps (so data-set size leaves the budget alone).

    ``heartbeat`` (if given) reports the step at least every 10 s: 3000 steps take minutes on a CPU.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = DigitClassifier(image_shape=tuple(images.shape[1:]), n_classes=n_classes)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    model.train()
    for step in range(1, steps + 1):
        if heartbeat is not None:
            heartbeat.beat(step)
        idx = torch.randint(len(images), (min(batch_size, len(images)),), generator=g)
        loss = F.cross_entropy(model(images[idx]), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval().requires_grad_(False)
    with torch.no_grad():
        model.feature_scale.copy_(_batched(model.body, images).var(0).mean().sqrt().clamp_min(1e-6))
    return model


@torch.no_grad()
def accuracy(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` the classifier puts in class ``labels``."""
    return float((_batched(classifier, images).argmax(1) == labels).float().mean())


def _batched(fn, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    return torch.cat([fn(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


@torch.no_grad()
def classifier_fid(classifier: DigitClassifier, real: torch.Tensor, fake: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to classifier features of ``real`` and ``fake``."""
    fid = FrechetInceptionDistance(feature=_Features(classifier), reset_real_features=True)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    return float(fid.compute())


@torch.no_grad()
def classifier_is(classifier: DigitClassifier, images: torch.Tensor, *, splits: int = 1, seed: int = 0) -> float:
    """exp E KL(p(y|x) || p(y)) with the classifier's softmax: high when samples are confident and diverse.

    At most the number of classes (10 for digits).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = InceptionScore(feature=classifier, splits=splits)
    metric.update(images)
    with torch.random.fork_rng(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*degrees of freedom.*")  # its std over a single split
        torch.manual_seed(seed)  # torchmetrics shuffles before splitting
        mean, _ = metric.compute()
    return float(mean)


@torch.no_grad()
def precision_recall(real_features: torch.Tensor, fake_features: torch.Tensor, *, k: int = 3) -> tuple[float, float]:
    """k-NN precision and recall (Kynkäänniemi et al. 2019).

    Each sample's manifold is the union of balls around its points with radius the distance
    to the k-th nearest neighbour in the same set. Precision: the fraction of fakes inside the
    real manifold (fidelity); recall: the fraction of reals inside the fake manifold
    (coverage; low under mode collapse). Written here on ``torch.cdist`` because the one
    package for it (``prdc``) has had no release since 2020 and works on NumPy only.
    """
    real, fake = real_features.double(), fake_features.double()
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"need more than k={k} samples on each side")

    def radii(x: torch.Tensor) -> torch.Tensor:
        d = torch.cdist(x, x)
        return d.kthvalue(k + 1, dim=1).values  # k+1: the point itself is at distance 0

    d_rf = torch.cdist(real, fake)  # (n_real, n_fake)
    precision = (d_rf <= radii(real)[:, None]).any(dim=0).double().mean()
    recall = (d_rf <= radii(fake)[None, :]).any(dim=1).double().mean()
    return float(precision), float(recall)


@torch.no_grad()
def features(classifier: DigitClassifier, images: torch.Tensor) -> torch.Tensor:
    return _batched(classifier.features, images)
