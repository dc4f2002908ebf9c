"""SeqGAN's synthetic oracle benchmark, offline: data, MLE and adversarial phases, NLL_oracle / NLL_test.

The oracle is an LSTM with N(0, 1) parameters (vocabulary 5,000, embedding 32, hidden 32);
it samples the training sequences (length 20). Scores, as in SeqGAN's ``target_loss``:
``nll_oracle`` = the oracle's per-token NLL of the generator's samples (lower = samples the
oracle finds likely; a collapsed generator can score well here), and ``nll_test`` = the
generator's per-token NLL of held-out oracle samples (rises when the generator drops modes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from genplay.generative.core.step import discriminator_step
from genplay.generative.text.models import TokenLM, make_oracle, mean_nll, sample
from genplay.generative.text.seqgan import SeqGAN, TextGANConfig, make_discriminator


@dataclass(frozen=True)
class OracleTask:
    """The oracle and its data sets."""

    oracle_seed: int = 0
    """Seed of the oracle's parameters and of its samples (the same oracle for every training seed)."""
    vocab_size: int = 5000
    """Oracle vocabulary (SeqGAN: 5,000)."""
    seq_len: int = 20
    """Sequence length (SeqGAN: 20)."""
    n_train: int = 10000
    """Oracle samples to train on (SeqGAN: 10,000)."""
    n_test: int = 5000
    """Held-out oracle samples for NLL_test."""


def oracle_data(task: OracleTask, device: str | torch.device = "cpu") -> tuple[TokenLM, torch.Tensor, torch.Tensor]:
    """The oracle and its ``(train, test)`` samples, all determined by ``task.oracle_seed``."""
    oracle = make_oracle(seed=task.oracle_seed, vocab_size=task.vocab_size, device=device)
    gen = torch.Generator(device=device).manual_seed(task.oracle_seed + 1)
    data = sample(oracle, task.n_train + task.n_test, task.seq_len, generator=gen)
    return oracle, data[: task.n_train], data[task.n_train :]


def scores(gan: SeqGAN, oracle: TokenLM, test: torch.Tensor, n_eval: int, temperature: float = 1.0) -> dict[str, float]:
    """NLL_oracle of ``n_eval`` generator samples at ``temperature``, and NLL_test of held-out data."""
    return {
        "nll_oracle": mean_nll(oracle, gan.sample(n_eval, temperature=temperature)),
        "nll_test": mean_nll(gan.generator.eval(), test, temperature=temperature),
    }


def probe_discriminator(
    gan: SeqGAN, test: torch.Tensor, *, steps: int, batch_size: int = 256, n_eval: int = 2000, seed: int = 12345
) -> dict[str, float]:
    """How much a fresh discriminator can tell the generator from the data: accuracies after ``steps``.

    A new discriminator of the run's shape trains on training sequences against fresh samples,
    then is scored on training sequences, held-out oracle sequences and new samples. High on
    training data and near 0.5 on held-out data means it memorises rather than generalises.
    Runs under its own RNG (``fork_rng``), so a run with the probe gives the same results.
    """
    device = gan.device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        rng = torch.Generator(device=device).manual_seed(seed)
        d = make_discriminator(gan.config, gan.generator.vocab_size, gan.seq_len).to(device)
        opt = torch.optim.Adam(d.parameters(), lr=1e-3)
        gen = gan.generator.eval()
        for _ in range(steps):
            real = gan.data[torch.randint(len(gan.data), (batch_size,), generator=rng, device=device)]
            fake = sample(gen, batch_size, gan.seq_len, generator=rng)
            discriminator_step(d.score, opt, d.embed(real), d.embed(fake), gan.disc_step_config)
        return {"steps": steps, **discriminator_accuracies(d, gan, test, n_eval=n_eval, generator=rng)}


@torch.no_grad()
def discriminator_accuracies(
    d: torch.nn.Module, gan: SeqGAN, test: torch.Tensor, *, n_eval: int = 2000, generator: torch.Generator | None = None
) -> dict[str, float]:
    """How often ``d`` calls training sequences real, held-out oracle sequences real and fresh samples fake.

    A discriminator that memorises scores high on the first and low on the second.
    """
    was_training = d.training
    d.eval()
    fake = sample(gan.generator.eval(), n_eval, gan.seq_len, generator=generator)
    out = {
        "acc_train_real": float((d(gan.data[:n_eval]) > 0).float().mean()),
        "acc_test_real": float((d(test[:n_eval]) > 0).float().mean()),
        "acc_fresh_fake": float((d(fake) < 0).float().mean()),
    }
    d.train(was_training)
    return out


def run_oracle(
    *,
    task: OracleTask,
    config: TextGANConfig,
    minutes: float,
    mle_fraction: float = 0.5,
    max_mle_epochs: int = 120,
    mle_temperatures: tuple[float, ...] = (),
    disc_pretrain_steps: int = 200,
    probe_steps: int = 0,
    max_adv_steps: int = 10**9,
    n_eval: int = 5000,
    n_curve: int = 500,
    eval_every: int = 10,
    device: str | torch.device = "cpu",
    log: Callable[[dict], None] = lambda row: None,
) -> dict:
    """MLE pretraining then SeqGAN, within ``minutes`` of wall time; returns the summary numbers.

    ``mle_fraction`` of the training time goes to MLE epochs, the rest to adversarial steps;
    the final evaluations (``n_eval`` samples each) come on top.
    """
    t0 = time.monotonic()
    oracle, train, test = oracle_data(task, device)
    gan = SeqGAN(data=train, vocab_size=task.vocab_size, config=config, device=device)
    torch.manual_seed(config.seed)  # the run seeds what it samples with (constructors leave global state alone)
    budget = minutes * 60.0
    curve: list[dict] = []

    def record(phase: str, step: int) -> None:
        row = {"phase": phase, "step": step, "t": round(time.monotonic() - t0, 1), **scores(gan, oracle, test, n_curve)}
        curve.append(row)
        log(row)

    record("mle", 0)
    mle_deadline = t0 + budget * mle_fraction
    epochs = 0
    while epochs < max_mle_epochs and time.monotonic() < mle_deadline:
        gan.mle_epoch(deadline=mle_deadline)
        epochs += 1
        if epochs % 2 == 0:
            record("mle", epochs)
    mle = scores(gan, oracle, test, n_eval)
    log({"phase": "mle_final", "epochs": epochs, **mle})
    for temp in mle_temperatures:  # Caccia et al. 2020: MLE with temperature, the quality-diversity baseline
        curve.append({"phase": "mle_temperature", "temperature": temp, **scores(gan, oracle, test, n_eval, temp)})
        log(curve[-1])

    probe = probe_discriminator(gan, test, steps=probe_steps) if probe_steps else None
    if probe:
        log({"phase": "discriminator_probe", **probe})
    gan.pretrain_discriminator(disc_pretrain_steps)
    steps, deadline = 0, t0 + budget
    while steps < max_adv_steps and time.monotonic() < deadline:
        stats = gan.adversarial_step()
        steps += 1
        if steps % eval_every == 0:
            record("adv", steps)
            log({"phase": "adv_stats", "step": steps, **stats})
    train_seconds = time.monotonic() - t0
    adv = scores(gan, oracle, test, n_eval)
    return {
        "nll_oracle_mle": mle["nll_oracle"],
        "nll_test_mle": mle["nll_test"],
        "nll_oracle_adv": adv["nll_oracle"],
        "nll_test": adv["nll_test"],
        "nll_oracle_of_oracle": mean_nll(oracle, test),
        "discriminator_probe": probe,
        "mle_epochs": epochs,
        "adv_steps": steps,
        "train_seconds": round(train_seconds, 1),
        "curve": curve,
        "gan": gan,
    }
