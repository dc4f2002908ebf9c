"""Train the MuseGAN-style generator with a WGAN-GP critic; save, load and sample rolls.

Every round is the core's ``adversarial_round``: ``n_critic`` critic steps through
``discriminator_step`` (Wasserstein loss + ``wgan_gp_penalty``) and one ``generator_step``.
Sampling uses the EMA generator in eval mode. The trained generator is saved with the core's
``state_io`` (JSON + safetensors, checksummed, never a pickle). Under ``torchrun``
(``dist``) each rank trains on its share of every global batch with gradients averaged
over ranks, as ``genplay.generative.images.trainer`` does. Every loss is checked: a NaN or inf
stops the run before it reaches a file. ``checkpoint.pt`` (also ``state_io``) holds the whole
trainer every ``checkpoint_every`` updates, so a killed run resumes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genplay.errors import CheckpointError, GenplayError
from genplay.generative.core import EMA, DiscriminatorStepConfig, seed_everything, select_device
from genplay.generative.core.checks import (
    DECAY,
    STEP_SIZE,
    Device,
    Int,
    OneOf,
    Real,
    Rule,
    check_device,
    check_fields,
    check_finite,
    check_finite_modules,
    check_finite_tree,
    check_float,
    check_int,
    flag_label,
)
from genplay.generative.core.distributed import (
    DistContext,
    broadcast_module,
    mean_over_ranks,
    rank_rows,
    sync_batch_norm,
)
from genplay.generative.core.gan import GANStepConfig, adversarial_round
from genplay.generative.core.progress import Heartbeat
from genplay.generative.core.state_io import load_state, save_state
from genplay.generative.music.data import BARS, STEPS_PER_BAR, TRACKS, Rolls
from genplay.generative.music.holds import critic_view
from genplay.generative.music.models import REPRESENTATIONS, MuseCritic, MuseGenerator

GENERATOR_FILE = "generator.state"
CHECKPOINT_FILE = "checkpoint.pt"
KIND = "genplay.music.generator"
CHECKPOINT_KIND = "genplay.music.checkpoint"
# sizes a 2-core, 24 GB machine trains; past them a run allocates for ever (gen_width 1e6: terabytes)
LIMITS = {"steps": 10_000_000, "batch_size": 4096, "z_dim": 512, "gen_width": 1024, "critic_width": 512}
LIMITS.update(n_critic=100, checkpoint_every=10_000_000)
MUSIC_RULES: dict[str, Rule] = {name: Int(2 if name == "gen_width" else 1, high) for name, high in LIMITS.items()}
MUSIC_RULES.update(lr=STEP_SIZE, penalty_weight=Real(0.0, 1e6, low_open=True), beta1=DECAY, beta2=DECAY)
MUSIC_RULES.update(ema_decay=DECAY, representation=OneOf(REPRESENTATIONS), seed=Int(0, 2**31 - 1), device=Device())
SAMPLING_TEMPERATURE = 2.5
"""Default decoding of ``sample_rolls``: 0 takes each step's argmax, above 0 draws from its softmax.
At 3000 updates the softmax is sharp (the critic judged it, not draws): the argmax writes 0.03-0.7%
single 16ths, draws at 1 under 1%, at 2.5 2.4-2.9% on seeds 0-2 (data 3.3%) with all 18 targets
met (``bench_results/music_s7.jsonl``)."""


@dataclass(frozen=True)
class MusicGANConfig:
    """Settings of one music-GAN run."""

    steps: int = 3000
    """Generator updates in all (the hold representation meets all 18 Bach targets at 3000 on seeds 0-2
    with the default sampling, 12 of 18 at 1000: it learns harmony more slowly than the pitch model)."""
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
    checkpoint_every: int = 500
    """Write ``checkpoint.pt`` (the whole trainer, for ``--resume``) every this many updates and at the end."""
    seed: int = 0
    """Seeds torch, NumPy, Python and the data order."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""

    def __post_init__(self) -> None:
        check_fields(self, MUSIC_RULES, flag_label)

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
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = False,
) -> tuple[MuseGenerator, dict]:
    """Train on ``rolls.windows``; returns the sampling (EMA) generator in eval mode and a summary.

    With ``dist`` this process is one data-parallel rank (``batch_size`` is the global batch);
    ``callback`` then runs on rank 0 only, with statistics averaged over ranks. ``checkpoint``:
    where rank 0 writes the trainer every ``config.checkpoint_every`` updates; ``resume``
    continues from it. A NaN or inf loss raises ``NonFiniteError`` before anything is written.
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
    parts = {"generator": gen, "critic": critic, "g_opt": g_opt, "d_opt": d_opt}
    done, history = _restore(Path(checkpoint), parts, ema, rolls) if resume else (0, [])  # type: ignore[arg-type]
    first = done + 1
    stream = rank_rows(real_batches(data, config.batch_size, seed=config.seed + first - 1), dist)
    step_config = config.step_config()
    writes = checkpoint is not None and (dist is None or dist.is_main)
    beat = Heartbeat("music train", config.steps, enabled=progress and (dist is None or dist.is_main))
    start, stats = time.perf_counter(), {}
    for step in range(first, config.steps + 1):
        stats = adversarial_round(
            generator=gen, critic=critic, g_optimizer=g_opt, d_optimizer=d_opt, batches=stream,
            z_dim=gen.latent_dim, config=step_config, ema=ema, dist=dist,
        )  # fmt: skip
        stats = mean_over_ranks(stats, dist)  # every rank sees the same losses, so all stop on a NaN
        check_finite(step, stats)
        beat.beat(step, f"d_loss {stats['d_loss']:.3f} g_loss {stats['g_loss']:.3f}")
        if (log_every and step % log_every == 0) or step == config.steps:
            row = {"step": step, "seconds": round(time.perf_counter() - start, 2), **stats}
            history.append(row)
            if callback is not None and (dist is None or dist.is_main):
                callback(row)
        if writes and (step % config.checkpoint_every == 0 or step == config.steps):
            _save_checkpoint(Path(checkpoint), config, step, parts, ema, history, rolls)  # type: ignore[arg-type]
    sampler = ema.module if ema is not None else gen
    summary = {"train_seconds": time.perf_counter() - start, "steps": config.steps, "history": history}
    summary.update(world_size=world, backend=dist.backend if dist is not None else None)
    return sampler.eval(), summary


def _save_checkpoint(
    path: Path, config: MusicGANConfig, step: int, parts: dict, ema: EMA | None, history: list, rolls: Rolls
) -> None:
    check_finite_modules(step, {k: v for k, v in parts.items() if isinstance(v, torch.nn.Module)})
    state = {"kind": CHECKPOINT_KIND, "config": dataclasses.asdict(config), "step": step, "history": history}
    state.update({k: v.state_dict() for k, v in parts.items()})
    state.update(ema=ema.state_dict() if ema is not None else None, torch_rng=torch.get_rng_state())
    state.update(lowest_pitch=rolls.lowest_pitch, pitches=rolls.pitches)
    save_state(path, state)


def read_checkpoint_config(path: str | Path) -> MusicGANConfig:
    """The settings stored in a music ``checkpoint.pt`` (what ``--resume`` continues with)."""
    state = load_state(path)
    if state.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(f"{path}: not a music checkpoint (kind {state.get('kind')!r})")
    try:
        known = {f.name for f in dataclasses.fields(MusicGANConfig)}
        return MusicGANConfig(**{k: v for k, v in state["config"].items() if k in known})
    except (KeyError, TypeError, AttributeError, GenplayError) as exc:
        raise CheckpointError(f"{path}: its config is unusable ({exc})") from None


def _restore(path: Path, parts: dict, ema: EMA | None, rolls: Rolls) -> tuple[int, list]:
    """Load ``path`` into the trainer's parts; returns ``(step, history)``."""
    state = load_state(path)
    if state.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(f"{path}: not a music checkpoint (kind {state.get('kind')!r})")
    check_finite_tree({k: state.get(k) for k in (*parts, "ema")}, str(path))
    if (state.get("lowest_pitch"), state.get("pitches")) != (rolls.lowest_pitch, rolls.pitches):
        raise CheckpointError(f"{path}: trained on another pitch range; pass the --limit it was trained with")
    try:
        for k, v in parts.items():
            v.load_state_dict(state[k])
        if ema is not None and state["ema"] is not None:
            ema.load_state_dict(state["ema"])
        step = check_int("step", state["step"], 0, LIMITS["steps"])
        history = list(state["history"])
        torch.set_rng_state(state["torch_rng"])
    except (KeyError, RuntimeError, ValueError, TypeError, GenplayError) as exc:
        why = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"{path}: does not match this run's settings ({why})") from None
    return step, history


@torch.no_grad()
def sample_rolls(
    generator: MuseGenerator, n: int, *, seed: int = 0, batch_size: int = 256, temperature: float | None = None
) -> np.ndarray:
    """``n`` binary rolls (n, tracks, steps, pitches) from ``generator`` with seeded noise.

    ``temperature`` (default ``SAMPLING_TEMPERATURE``): above 0 each step's token is drawn from the
    softmax of its logits / temperature (1: the probabilities the critic judged in training); 0 takes
    the most likely token, which rounds rare short notes away (a 16th needs a new pitch to beat
    "hold" at the next step; BENCHMARKS.md, "16th notes").
    """
    if n < 1:
        raise GenplayError(f"--n: expected a positive number of samples, got {n}")
    temperature = check_float("--temperature", SAMPLING_TEMPERATURE if temperature is None else temperature, 0, 100)
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.latent_dim, generator=g)
    out = []
    for s in range(0, n, batch_size):
        logits = generator.logits(z[s : s + batch_size].to(device))
        if temperature > 0:
            u = torch.rand(logits.shape, generator=g).clamp_min(1e-12).to(device)
            logits = logits / temperature - torch.log(-torch.log(u))  # Gumbel-max: a draw from the softmax
        out.append(generator.decode_tokens(logits.argmax(-1)).cpu().numpy() > 0.5)
    generator.train(was_training)
    return np.concatenate(out)


def save_generator(
    path: str | Path, config: MusicGANConfig, generator: MuseGenerator, rolls: Rolls, *, limit: int | None = None
) -> None:
    """The sampling generator and how to rebuild it, as one :mod:`state_io` file (``limit``: the
    ``--limit`` it was trained with, so ``music evaluate`` compares it with the same chorales)."""
    meta = {"kind": KIND, "config": dataclasses.asdict(config), "lowest_pitch": rolls.lowest_pitch}
    meta.update(pitches=rolls.pitches, limit=limit)
    save_state(path, {"meta": meta, "weights": {k: v.detach().cpu() for k, v in generator.state_dict().items()}})


def trained_limit(run_dir: str | Path) -> int | None:
    """The ``--limit`` a run was trained with (None: all chorales, or a run saved before it was recorded)."""
    path = Path(run_dir) / GENERATOR_FILE
    limit = load_state(path).get("meta", {}).get("limit")
    return check_int(f"{path}: limit", limit, 1, 100_000) if limit is not None else None


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
        lowest = check_int("lowest_pitch", meta["lowest_pitch"], 0, 127)
        pitches = check_int("pitches", meta["pitches"], 1, 128 - lowest)
        check_finite_tree(state["weights"], str(path))
        gen = build_generator(config, pitches)
        gen.load_state_dict(state["weights"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, GenplayError) as exc:
        raise CheckpointError(f"{path}: not a music generator this genplay can rebuild ({exc})") from None
    return gen.to(select_device(device)).eval(), config, lowest
