"""Train the MuseGAN-style generator with a WGAN-GP critic; save, load and sample rolls.

Every round is the core's ``adversarial_round``: ``n_critic`` critic steps through
``discriminator_step`` (Wasserstein loss + ``wgan_gp_penalty``) and one ``generator_step``.
Sampling uses the EMA generator in eval mode. The trained generator is saved with the core's
``state_io`` (JSON + safetensors, checksummed, never a pickle). Under ``torchrun``
(``dist``) each rank trains on its share of every global batch with gradients averaged
over ranks, as ``genplay.generative.images.trainer`` does; there is no checkpoint to resume.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genplay.errors import CheckpointError, GenplayError
from genplay.generative.core import EMA, DiscriminatorStepConfig, seed_everything, select_device
from genplay.generative.core.distributed import (
    DistContext,
    broadcast_module,
    mean_over_ranks,
    rank_rows,
    sync_batch_norm,
)
from genplay.generative.core.gan import GANStepConfig, adversarial_round
from genplay.generative.core.state_io import load_state, save_state
from genplay.generative.music.data import BARS, STEPS_PER_BAR, TRACKS, Rolls
from genplay.generative.music.holds import critic_view
from genplay.generative.music.models import REPRESENTATIONS, MuseCritic, MuseGenerator

GENERATOR_FILE = "generator.state"
KIND = "genplay.music.generator"


def check_device(device: str) -> None:
    """One ``--device`` error for anything but auto, cpu or cuda[:i] with that GPU present."""
    if device in ("auto", "cpu"):
        return
    ok = device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())
    if not (
        ok and torch.cuda.is_available() and torch.device(device).index in (None, *range(torch.cuda.device_count()))
    ):
        raise GenplayError(f"--device: expected auto, cpu or cuda (with that GPU present), got {device!r}")


@dataclass(frozen=True)
class MusicGANConfig:
    """Settings of one music-GAN run."""

    steps: int = 3000
    """Generator updates in all (the hold representation meets all 18 Bach targets at 3000 on seeds 0-1,
    12 of 18 at 1000: it learns harmony more slowly than the per-step pitch model; BENCHMARKS.md)."""
    batch_size: int = 32
    """Real 4-bar windows per critic step (and fakes per step)."""
    z_dim: int = 16
    """Size of each latent (chords, style, melody and groove, the last two per track)."""
    gen_width: int = 64
    """Channels of the bar generator's first stage."""
    critic_width: int = 16
    """Channels of the critic's first stage (then x2, x4)."""
    n_critic: int = 2
    """Critic updates per generator update (MuseGAN uses 5; 2 measured as good on a CPU budget)."""
    straight_through: bool = False
    """Train on hard one-hot steps (straight-through gradients) instead of the softmax."""
    representation: str = "hold"
    """Tokens per 16th step: hold (pitches, rest, hold the previous step) or pitch (pitches, rest)."""
    lr: float = 1e-3
    """Adam learning rate of both networks."""
    beta1: float = 0.5
    """Adam beta1 (MuseGAN 0.5)."""
    beta2: float = 0.9
    """Adam beta2 (MuseGAN 0.9)."""
    penalty_weight: float = 10.0
    """WGAN-GP lambda (Gulrajani et al. 2017)."""
    ema_decay: float = 0.99
    """Decay of the generator's weight average used for sampling (0 = sample the raw generator)."""
    seed: int = 0
    """Seeds torch, NumPy, Python and the data order."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "z_dim", "gen_width", "critic_width", "n_critic"):
            if getattr(self, name) < 1:
                raise GenplayError(
                    f"--{name.replace('_', '-')}: expected a positive integer, got {getattr(self, name)}"
                )
        if self.gen_width < 2:
            raise GenplayError(f"--gen-width: expected at least 2, got {self.gen_width}")
        for name in ("lr", "penalty_weight"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise GenplayError(f"--{name.replace('_', '-')}: expected a positive number, got {v}")
        for name in ("beta1", "beta2", "ema_decay"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise GenplayError(f"--{name.replace('_', '-')}: expected a number in [0, 1), got {v}")
        if self.representation not in REPRESENTATIONS:
            raise GenplayError(
                f"--representation: expected one of {', '.join(REPRESENTATIONS)}, got {self.representation!r}"
            )
        if self.seed < 0:
            raise GenplayError(f"--seed: expected a non-negative integer, got {self.seed}")
        check_device(self.device)

    def step_config(self) -> GANStepConfig:
        disc = DiscriminatorStepConfig(loss="wasserstein", penalty="wgan_gp", penalty_weight=self.penalty_weight)
        return GANStepConfig(discriminator=disc, n_critic=self.n_critic)


def build_generator(config: MusicGANConfig, pitches: int) -> MuseGenerator:
    """The generator for ``config`` and a pitch range of ``pitches``."""
    return MuseGenerator(
        tracks=len(TRACKS), bars=BARS, steps_per_bar=STEPS_PER_BAR, pitches=pitches, z_dim=config.z_dim,
        width=config.gen_width, straight_through=config.straight_through, representation=config.representation,
    )  # fmt: skip


def real_batches(windows: torch.Tensor, batch_size: int, *, seed: int) -> Iterator[tuple[torch.Tensor, None]]:
    """Endless shuffled float minibatches ``(rolls, None)`` (unconditional), reshuffled each epoch."""
    g = torch.Generator().manual_seed(seed)
    batch_size = min(batch_size, len(windows))
    while True:
        order = torch.randperm(len(windows), generator=g).to(windows.device)
        for i in range(0, len(windows) - batch_size + 1, batch_size):
            yield windows[order[i : i + batch_size]].float(), None


def train(
    config: MusicGANConfig,
    rolls: Rolls,
    *,
    log_every: int = 100,
    callback: Callable[[dict], None] | None = None,
    dist: DistContext | None = None,
) -> tuple[MuseGenerator, dict]:
    """Train on ``rolls.windows``; returns the sampling (EMA) generator in eval mode and a summary.

    With ``dist`` this process is one data-parallel rank (``batch_size`` is the global batch);
    ``callback`` then runs on rank 0 only, with statistics averaged over ranks.
    """
    world = dist.world_size if dist is not None else 1
    if config.batch_size % world:
        raise GenplayError(f"--batch-size: {config.batch_size} does not split over {world} ranks (a multiple)")
    seed_everything(config.seed)
    device = select_device(config.device)
    data = torch.from_numpy(rolls.windows).to(device)  # booleans; batches become floats
    if config.representation == "hold":
        data = critic_view(data)  # what the generator outputs: sounding rolls, then onset rolls
    _, _, steps, pitches = data.shape
    gen = build_generator(config, pitches).to(device)
    critic = MuseCritic(tracks=gen.view_channels, steps=steps, pitches=pitches, width=config.critic_width).to(device)
    sync_batch_norm(gen, dist)  # before the optimiser: it swaps the batch-norm parameters
    broadcast_module(gen, dist)
    broadcast_module(critic, dist)
    betas = (config.beta1, config.beta2)
    g_opt = torch.optim.Adam(gen.parameters(), lr=config.lr, betas=betas)
    d_opt = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=betas)
    ema = EMA(gen, decay=config.ema_decay) if config.ema_decay > 0 else None
    stream = rank_rows(real_batches(data, config.batch_size, seed=config.seed), dist)
    step_config = config.step_config()
    start, stats, history = time.perf_counter(), {}, []
    for step in range(1, config.steps + 1):
        stats = adversarial_round(
            generator=gen, critic=critic, g_optimizer=g_opt, d_optimizer=d_opt, batches=stream,
            z_dim=gen.latent_dim, config=step_config, ema=ema, dist=dist,
        )  # fmt: skip
        if (log_every and step % log_every == 0) or step == config.steps:
            stats = mean_over_ranks(stats, dist)
            row = {"step": step, "seconds": round(time.perf_counter() - start, 2), **stats}
            history.append(row)
            if callback is not None and (dist is None or dist.is_main):
                callback(row)
    sampler = ema.module if ema is not None else gen
    summary = {"train_seconds": time.perf_counter() - start, "steps": config.steps, "history": history}
    summary.update(world_size=world, backend=dist.backend if dist is not None else None)
    return sampler.eval(), summary


@torch.no_grad()
def sample_rolls(generator: MuseGenerator, n: int, *, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """``n`` binary rolls (n, tracks, steps, pitches) from ``generator`` with seeded noise."""
    if n < 1:
        raise GenplayError(f"--n: expected a positive number of samples, got {n}")
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.latent_dim, generator=g)
    tracks = generator.tracks  # the sounding rolls; a "hold" generator's onset rolls follow them
    out = [generator(z[s : s + batch_size].to(device))[:, :tracks].cpu().numpy() > 0.5 for s in range(0, n, batch_size)]
    generator.train(was_training)
    return np.concatenate(out)


def save_generator(path: str | Path, config: MusicGANConfig, generator: MuseGenerator, rolls: Rolls) -> None:
    """The sampling generator and how to rebuild it, as one :mod:`state_io` file."""
    meta = {"kind": KIND, "config": dataclasses.asdict(config), "lowest_pitch": rolls.lowest_pitch}
    meta["pitches"] = rolls.pitches
    save_state(path, {"meta": meta, "weights": {k: v.detach().cpu() for k, v in generator.state_dict().items()}})


def load_generator(run_dir: str | Path, device: str = "auto") -> tuple[MuseGenerator, MusicGANConfig, int]:
    """``(generator in eval mode, config, lowest_pitch)`` of a ``genplay music train`` run directory."""
    check_device(device)
    path = Path(run_dir) / GENERATOR_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file; expected a run directory written by `genplay music train`")
    state = load_state(path)  # refuses damaged or foreign files with a CheckpointError naming the file
    try:
        meta = state["meta"]
        if meta["kind"] != KIND:
            raise ValueError(f"kind is {meta['kind']!r}, not {KIND!r}")
        known = {f.name for f in dataclasses.fields(MusicGANConfig)}
        fields = {"representation": "pitch", **meta["config"]}  # runs before session 5 had no hold token
        config = MusicGANConfig(**{k: v for k, v in fields.items() if k in known})
        lowest, pitches = int(meta["lowest_pitch"]), int(meta["pitches"])
        gen = build_generator(config, pitches)
        gen.load_state_dict(state["weights"])
    except (KeyError, TypeError, ValueError, RuntimeError, GenplayError) as exc:
        raise CheckpointError(f"{path}: not a music generator this genplay can rebuild ({exc})") from None
    return gen.to(select_device(device)).eval(), config, lowest
