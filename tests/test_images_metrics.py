"""Metric functions on hand-made features and images with known answers."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest
import torch
from torch import nn

from genplay.generative.images.evaluate import save_grid
from genplay.generative.images.metrics import classifier_fid, classifier_is, precision_recall


class Identity(nn.Module):
    """Stands for the classifier: features = the flattened image, logits = the same numbers."""

    num_features = 4

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def test_fid_of_a_shift_is_its_squared_length():
    real = torch.randn(2000, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    shift = torch.tensor([3.0, 0.0, -1.0, 2.0]).view(1, 1, 2, 2)
    assert classifier_fid(Identity(), real, real + shift) == pytest.approx(14.0, rel=1e-4)  # covariances equal
    assert classifier_fid(Identity(), real, real) == pytest.approx(0.0, abs=1e-6)


def test_fid_of_a_scaled_gaussian():
    real = torch.randn(4000, 1, 2, 2, generator=torch.Generator().manual_seed(1))
    # N(0, I) vs N(0, 4I) in 4 dims: tr(I + 4I - 2 * 2I) = 4, up to sampling error
    assert classifier_fid(Identity(), real, 2 * real) == pytest.approx(4.0, rel=0.01)


def test_inception_score_extremes():
    confident_one_class = torch.full((100, 1, 2, 2), -50.0)
    confident_one_class[:, 0, 0, 0] = 50.0
    assert classifier_is(Identity(), confident_one_class) == pytest.approx(1.0, abs=1e-4)
    balanced = torch.full((100, 1, 2, 2), -50.0)
    balanced.view(100, 4)[torch.arange(100), torch.arange(100) % 4] = 50.0
    assert classifier_is(Identity(), balanced) == pytest.approx(4.0, rel=1e-4)  # = number of classes
    assert classifier_is(Identity(), torch.zeros(100, 1, 2, 2)) == pytest.approx(1.0, abs=1e-4)  # unsure


def test_precision_recall_known_answers():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(200, 5, generator=g)
    assert precision_recall(real, real.clone()) == (1.0, 1.0)
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)
    collapsed = real[:1].repeat(200, 1)  # mode collapse: every fake is one real sample
    p, r = precision_recall(real, collapsed)
    assert p == 1.0 and r <= 0.05
    two_modes = torch.cat([real[:100], real[100:] + 50.0])
    p, r = precision_recall(two_modes, two_modes[:100])  # one of two modes: full precision, half the recall
    assert (p, r) == (1.0, 0.5)
    with pytest.raises(ValueError, match="more than k"):
        precision_recall(real[:3], real[:3])


def test_save_grid_tiles_images_in_rows(tmp_path):
    x = torch.full((3, 1, 2, 3), -1.0)
    x[1, 0, 0, 2] = 1.0  # top-right pixel of the second image
    x[2, 0, 1, 0] = 0.0  # bottom-left pixel of the third, mid grey
    path = tmp_path / "g.png"
    save_grid(x, path, nrow=2, scale=1)
    img = np.round(matplotlib.image.imread(path)[..., 0] * 255)
    assert img.shape == (4, 6)
    expected = np.zeros((4, 6))
    expected[0, 5] = 255
    expected[3, 0] = 128  # (0 + 1) * 127.5 rounds to 128
    np.testing.assert_array_equal(img, expected)
