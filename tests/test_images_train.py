"""Models, determinism, checkpoints and a short training run that moves the metrics toward the data."""

from __future__ import annotations

import pytest
import torch

from genplay.errors import CheckpointError, GenplayError
from genplay.generative.core.networks import MinibatchStd
from genplay.generative.images.data import load_digits
from genplay.generative.images.evaluate import image_metrics
from genplay.generative.images.metrics import accuracy, train_classifier
from genplay.generative.images.models import Critic, Generator
from genplay.generative.images.trainer import ImageGAN, load_generator, preset, sample


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def classifier(digits):
    torch.set_num_threads(1)
    return train_classifier(digits.train_images, digits.train_labels, n_classes=10, steps=400, seed=0)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 12, 16)])
@pytest.mark.parametrize("n_classes", [0, 10])
def test_generator_and_critic_shapes(shape, n_classes):
    gen = Generator(z_dim=5, image_shape=shape, n_classes=n_classes, base_channels=8)
    critic = Critic(image_shape=shape, n_classes=n_classes, base_channels=8, norm="layer")
    y = torch.arange(4) % 10 if n_classes else None
    x = gen(torch.randn(4, 5), y).detach()
    assert x.shape == (4, *shape) and float(x.abs().max()) <= 1.0
    assert critic(x, y).shape == (4,)


def test_bad_shapes_and_missing_labels():
    with pytest.raises(ValueError, match="multiples of 4"):
        Generator(z_dim=4, image_shape=(1, 10, 8))
    with pytest.raises(ValueError, match="pass labels"):
        Generator(z_dim=4, image_shape=(1, 8, 8), n_classes=3)(torch.randn(2, 4))
    with pytest.raises(GenplayError, match="--model"):
        preset("vae")
    with pytest.raises(GenplayError, match="--steps"):
        preset("dcgan", steps=0)


def test_anti_collapse_settings_reach_the_critic_and_the_step(digits):
    anti = dict(spectral_norm=True, minibatch_std=True, diffaugment=1.0, minibatch_std_group=2, mode_seeking=0.5)
    gan = _tiny("cgan", 2, loss="hinge", **anti)
    step = gan.config.step_config()
    assert step.discriminator.loss == "hinge" and step.diffaugment == 1.0 and step.mode_seeking == 0.5
    assert isinstance(gan.critic.features[1], MinibatchStd) and gan.critic.features[1].group_size == 2
    assert _tiny("cgan", 1).critic.features[1].group_size == 4
    assert hasattr(gan.critic.head.embed, "parametrizations")
    gan.train(digits, log_every=1)
    assert len(gan.history) == 2
    assert preset("wgan-gp", loss="hinge").step_config().discriminator.loss == "wasserstein"
    with pytest.raises(GenplayError, match="--diffaugment"):
        preset("cgan", diffaugment=-1.0)
    with pytest.raises(GenplayError, match="--loss"):
        preset("cgan", loss="wasserstein")
    with pytest.raises(GenplayError, match="--minibatch-std-group"):
        preset("cgan", minibatch_std_group=1)
    with pytest.raises(GenplayError, match="--mode-seeking"):
        preset("cgan", mode_seeking=-0.5)


def test_presets_hold_the_measured_anti_collapse_settings():
    """cgan: minibatch std and mode seeking 2.0 lifted digits recall to 0.81-0.86 on seeds 0-2; dcgan: minibatch std."""
    cgan = preset("cgan")
    assert cgan.minibatch_std and cgan.mode_seeking == 2.0 and cgan.step_config().mode_seeking == 2.0
    assert preset("dcgan").mode_seeking == 0.0 and preset("wgan-gp").mode_seeking == 0.0
    assert preset("dcgan").minibatch_std  # FID 3.5x -> 0.97x real-vs-real on digits seed 0 (images_s7.jsonl)
    assert preset("wgan-gp").minibatch_std  # FID 3.12x -> 2.95x real-vs-real on digits seed 1 (images_s7.jsonl)


def _tiny(model: str, steps: int, **kw) -> ImageGAN:
    cfg = preset(model, steps=steps, batch_size=32, base_channels=16, ema_decay=0.9, device="cpu", **kw)
    return ImageGAN(config=cfg, image_shape=(1, 8, 8), n_classes=10)


@pytest.mark.parametrize("model", ["dcgan", "cgan", "wgan-gp"])
def test_same_seed_same_run(digits, model):
    a = _tiny(model, 6)  # noise comes from torch's global RNG, seeded when a run is built
    a.train(digits, log_every=3)
    b = _tiny(model, 6)
    b.train(digits, log_every=3)
    assert a.history == [{**r, "seconds": a.history[i]["seconds"]} for i, r in enumerate(b.history)]
    assert torch.equal(a.sample(16, seed=3), b.sample(16, seed=3))
    assert not torch.equal(a.sample(16, seed=3), a.sample(16, seed=4))
    assert all(torch.equal(p, q) for p, q in zip(a.critic.parameters(), b.critic.parameters()))


def test_checkpoint_resume_and_saved_generator(digits, tmp_path):
    gan = _tiny("cgan", 4, checkpoint_every=2)
    gan.train(digits, out_dir=tmp_path, log_every=2)
    assert {p.name for p in tmp_path.iterdir()} == {"checkpoint.pt", "generator.pt", "model.json"}
    resumed = _tiny("cgan", 6)
    resumed.load_checkpoint(tmp_path / "checkpoint.pt")
    assert resumed.step == 4 and resumed.history == gan.history
    assert all(torch.equal(p, q) for p, q in zip(resumed.generator.parameters(), gan.generator.parameters()))
    resumed.train(digits, log_every=2)
    assert resumed.step == 6
    gen, meta = load_generator(tmp_path)
    assert meta["dataset"] == "digits" and meta["step"] == 4
    labels = torch.tensor([3, 1, 4, 1])
    assert torch.equal(sample(gen, 4, labels, seed=0), gan.sample(4, labels, seed=0))
    with pytest.raises(CheckpointError, match="not dcgan"):
        _tiny("dcgan", 4).load_checkpoint(tmp_path / "checkpoint.pt")
    (tmp_path / "generator.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="generator.pt: not a readable genplay state file"):
        load_generator(tmp_path)


@pytest.mark.slow
def test_short_cgan_run_moves_metrics_toward_the_data(digits, classifier):
    """400 updates of a small class-conditional GAN: FID falls, recall rises, samples carry their labels.

    Without the preset's mode-seeking term: at this size and length it holds label accuracy at
    0.24 (it pays off over thousands of updates of the full-size model, ``images_s7.jsonl``).
    """
    gan = _tiny("cgan", 400, lr_generator=1e-3, lr_critic=1e-3, mode_seeking=0.0)
    test = digits.test_images[:300]
    before = image_metrics(classifier, test, gan.sample(300))
    gan.train(digits, log_every=400)
    after = image_metrics(classifier, test, gan.sample(300))
    assert after["classifier_fid"] < 0.5 * before["classifier_fid"], (before, after)
    assert after["precision"] > before["precision"] + 0.3, (before, after)
    labels = torch.arange(300) % 10
    assert accuracy(classifier, gan.sample(300, labels), labels) > 0.4  # chance is 0.1
