"""A short adversarial run on a tiny SeqGAN oracle lowers NLL_oracle below its MLE start."""

from __future__ import annotations

import pytest
import torch

from genplay.generative.text.discriminator import CNNDiscriminator
from genplay.generative.text.oracle import OracleTask, oracle_data, scores
from genplay.generative.text.seqgan import SeqGAN, TextGANConfig

TASK = OracleTask(vocab_size=60, seq_len=8, n_train=600, n_test=200)


def _run(config: TextGANConfig, steps: int = 15) -> tuple[float, float]:
    oracle, train, test = oracle_data(TASK)
    gan = SeqGAN(data=train, vocab_size=TASK.vocab_size, config=config)
    for _ in range(2):
        gan.mle_epoch()
    gan.rng.manual_seed(123)
    start = scores(gan, oracle, test, 3000)["nll_oracle"]
    for _ in range(50):
        gan.discriminator_update(relaxed=config.variant == "gumbel")
    for _ in range(steps):
        gan.adversarial_step()
    gan.rng.manual_seed(123)
    return start, scores(gan, oracle, test, 3000)["nll_oracle"]


@pytest.mark.parametrize("variant", ["gumbel", "seqgan"])
@pytest.mark.slow
def test_adversarial_training_lowers_oracle_nll(variant):
    cfg = TextGANConfig(variant=variant, gen_lr=0.01, disc_lr=1e-3, n_rollouts=4, seed=0)
    start, end = _run(cfg)
    assert end < start - 0.1, (start, end)  # fails with gen_lr=0 (checked: the NLL then stays at its start)


def test_penalties_act_on_embeddings():
    d = CNNDiscriminator(vocab_size=20, seq_len=6, emb_dim=8, num_filters=4)
    real, fake = torch.randint(20, (5, 6)), torch.randint(20, (5, 6))
    from genplay.generative.core import DiscriminatorStepConfig, discriminator_step

    opt = torch.optim.Adam(d.parameters(), 1e-3)
    for penalty in ("r1", "wgan_gp"):
        cfg = DiscriminatorStepConfig(penalty=penalty, penalty_weight=1.0)
        stats = discriminator_step(d.score, opt, d.embed(real), d.embed(fake), cfg)
        assert stats["penalty"] > 0 and torch.isfinite(torch.tensor(stats["loss"]))
    d.eval()  # no dropout for the comparison
    soft = torch.nn.functional.one_hot(real, 20).float()
    assert torch.allclose(d.score(d.embed_soft(soft)), d(real), atol=1e-5)  # one-hots embed like tokens


def test_zero_discriminator_steps_freeze_the_discriminator():
    """``disc_steps=0`` is the frozen-discriminator ablation: generator steps, D untouched."""
    oracle, train, _ = oracle_data(TASK)
    gan = SeqGAN(data=train, vocab_size=TASK.vocab_size, config=TextGANConfig(disc_steps=0, n_rollouts=2, seed=0))
    before = [p.clone() for p in gan.discriminator.parameters()]
    g_before = [p.clone() for p in gan.generator.parameters()]
    gan.adversarial_step()
    assert all(torch.equal(a, b) for a, b in zip(before, gan.discriminator.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(g_before, gan.generator.parameters()))
    with pytest.raises(ValueError, match="disc_steps"):
        TextGANConfig(disc_steps=-1)


def test_discriminator_probe_reports_accuracies_and_leaves_the_run_unchanged():
    """The probe runs under its own RNG: a run with it gives the same numbers as one without."""
    from genplay.generative.text.oracle import run_oracle

    task = OracleTask(vocab_size=12, seq_len=4, n_train=64, n_test=32)
    config = TextGANConfig(emb_dim=8, hidden_dim=8, batch_size=16, n_rollouts=2, disc_filters=4, seed=0)

    def run(probe_steps: int) -> dict:
        kw = dict(
            task=task,
            config=config,
            minutes=5.0,
            mle_fraction=0.9,
            max_mle_epochs=1,
            max_adv_steps=2,
            disc_pretrain_steps=2,
        )
        return run_oracle(**kw, probe_steps=probe_steps, n_eval=64, n_curve=16, eval_every=1)

    plain, probed = run(0), run(20)
    assert plain["discriminator_probe"] is None
    probe = probed["discriminator_probe"]
    assert probe["steps"] == 20 and all(0.0 <= probe[k] <= 1.0 for k in probe if k.startswith("acc_"))
    assert (plain["nll_oracle_adv"], plain["nll_test"]) == (probed["nll_oracle_adv"], probed["nll_test"])


@pytest.mark.parametrize("variant", ["gumbel", "seqgan"])
def test_tiny_oracle_run_goes_through_every_phase(variant):
    """The fast tier's pass through the oracle benchmark (MLE, probe, discriminator pretraining,
    adversarial steps, curve) and both generator steps; the slow tests above check that they learn."""
    from genplay.generative.text.oracle import run_oracle

    task = OracleTask(vocab_size=12, seq_len=4, n_train=64, n_test=32)
    config = TextGANConfig(variant=variant, emb_dim=8, hidden_dim=8, batch_size=16, n_rollouts=2, disc_filters=4)
    out = run_oracle(
        task=task, config=config, minutes=5.0, max_mle_epochs=2, mle_temperatures=(0.9,), disc_pretrain_steps=2,
        probe_steps=2, max_adv_steps=2, n_eval=32, n_curve=16, eval_every=1,
    )  # fmt: skip
    assert (out["mle_epochs"], out["adv_steps"]) == (2, 2) and out["discriminator_probe"]["steps"] == 2
    assert [row["phase"] for row in out["curve"]] == ["mle", "mle", "mle_temperature", "adv", "adv"]
    numbers = [out[k] for k in ("nll_oracle_mle", "nll_test_mle", "nll_oracle_adv", "nll_test", "nll_oracle_of_oracle")]
    assert all(0.0 < x < 10.0 for x in numbers), numbers  # uniform over 12 tokens: ln 12 = 2.5 per token
