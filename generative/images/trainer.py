"""Train an image GAN (DCGAN, class-conditional GAN or WGAN-GP, chosen by config) on the core.

Each round is the core's ``adversarial_round``: ``n_critic`` critic updates through
``discriminator_step`` and one generator update; every loss is checked (a NaN or inf stops the
run before it reaches a file). Checkpoints and the generator are the core's ``state_io`` files
(JSON + safetensors + sha256, never a pickle), so a killed run resumes and a damaged or
non-finite file is refused.

Under ``torchrun`` (a ``DistContext``) each rank trains on its share of every global batch
(``batch_size`` split N ways) with gradients averaged over ranks, so N ranks step as one
process; rank 0 alone writes checkpoints and the generator, and a checkpoint resumes on any
number of ranks (it holds only global state).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from genplay.errors import CheckpointError, GenplayError
from genplay.generative.core import EMA, DiscriminatorStepConfig, atomic_write, seed_everything, seeded, select_device
from genplay.generative.core.checks import (
    DECAY,
    STEP_SIZE,
    Device,
    Int,
    OneOf,
    Real,
    Rule,
    check_fields,
    check_finite,
    check_finite_modules,
    check_finite_tree,
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
from genplay.generative.core.gan import GANStepConfig, adversarial_round, sorted_by_label
from genplay.generative.core.progress import Heartbeat
from genplay.generative.core.state_io import load_state, save_state
from genplay.generative.images.data import ImageData, batches
from genplay.generative.images.models import Critic, Generator

MODELS = ("dcgan", "cgan", "wgan-gp")
KIND = "genplay.images.generator"
# sizes a 2-core, 24 GB machine trains in minutes to hours; past them a run allocates or crawls for ever
LIMITS = {"steps": 10_000_000, "batch_size": 4096, "z_dim": 1024, "base_channels": 512, "n_critic": 100}
LIMITS.update(checkpoint_every=10_000_000)
MAX_CLASSES, MAX_SIDE, MAX_CHANNELS = 1000, 256, 4
IMAGE_RULES: dict[str, Rule] = {name: Int(1, high) for name, high in LIMITS.items()}
IMAGE_RULES.update(model=OneOf(MODELS), lr_generator=STEP_SIZE, lr_critic=STEP_SIZE, beta1=DECAY, beta2=DECAY)
IMAGE_RULES.update(ema_decay=DECAY, penalty_weight=Real(0.0, 1e6), seed=Int(0, 2**31 - 1), device=Device())
IMAGE_RULES.update(loss=OneOf(("bce", "hinge", "least_squares")), diffaugment=Real(0.0, 2.0))
IMAGE_RULES.update(minibatch_std_group=Int(2, LIMITS["batch_size"]), mode_seeking=Real(0.0, 100.0))


@dataclass(frozen=True)
class ImageGANConfig:
    """Settings of one image-GAN run; ``preset(model)`` fills in the published defaults per model."""

    model: str = "dcgan"
    """dcgan (BCE), cgan (class-conditional DCGAN, projection critic) or wgan-gp (Wasserstein + gradient penalty)."""
    steps: int = 3000
    """Generator updates in all."""
    batch_size: int = 64
    """Real images per critic step (and fakes per step)."""
    z_dim: int = 32
    """Size of the noise vector."""
    base_channels: int = 64
    """Channels of the first critic stage and last generator stage (the other stage has twice as many)."""
    lr_generator: float = 1e-3
    """Adam learning rate of the generator (DCGAN's 2e-4 learns too slowly for a few thousand CPU steps)."""
    lr_critic: float = 1e-3
    """Adam learning rate of the critic."""
    beta1: float = 0.5
    """Adam beta1 (DCGAN 0.5; WGAN-GP 0.0)."""
    beta2: float = 0.999
    """Adam beta2 (DCGAN 0.999; WGAN-GP 0.9)."""
    n_critic: int = 1
    """Critic updates per generator update (WGAN-GP 5)."""
    penalty_weight: float = 10.0
    """WGAN-GP lambda (ignored by dcgan/cgan)."""
    loss: str = "bce"
    """Critic and generator loss of dcgan/cgan: bce, hinge (SN-GAN, BigGAN) or least_squares; wgan-gp is Wasserstein."""
    spectral_norm: bool = False
    """Spectral normalisation (Miyato et al. 2018) on every critic layer, the projection head included."""
    minibatch_std: bool = False
    """Give the critic the batch's standard deviation as a feature map (Karras et al. 2018), against collapse."""
    minibatch_std_group: int = 4
    """Rows per minibatch-std group: consecutive rows of a label-sorted batch, so smaller groups mix fewer classes."""
    diffaugment: float = 0.0
    """DiffAugment strength (Zhao et al. 2020: real and fake images shifted and cut out before the critic); 0 = off."""
    mode_seeking: float = 0.0
    """Weight of the generator's mode-seeking term (Mao et al. 2019: image distance over noise distance); 0 = off."""
    ema_decay: float = 0.99
    """Decay of the generator's weight average used for sampling (0 = sample the raw generator)."""
    checkpoint_every: int = 1000
    """Write the checkpoint every this many generator updates (and at the end)."""
    seed: int = 0
    """Seeds torch, NumPy, Python and the data order."""
    device: str = "auto"
    """auto (CUDA when present), cpu, cuda, cuda:1, ..."""

    def __post_init__(self) -> None:
        check_fields(self, IMAGE_RULES, flag_label)

    @property
    def conditional(self) -> bool:
        return self.model == "cgan"

    def step_config(self) -> GANStepConfig:
        if self.model == "wgan-gp":
            disc = DiscriminatorStepConfig(loss="wasserstein", penalty="wgan_gp", penalty_weight=self.penalty_weight)
        else:
            disc = DiscriminatorStepConfig(loss=self.loss)
        return GANStepConfig(
            discriminator=disc, n_critic=self.n_critic, diffaugment=self.diffaugment, mode_seeking=self.mode_seeking
        )


def preset(model: str, **overrides) -> ImageGANConfig:
    """Per-model defaults: Radford et al. 2016 for dcgan/cgan, Gulrajani et al. 2017 for wgan-gp.

    One measured deviation: learning rates 1e-3 instead of DCGAN's 2e-4. On digits, 2000
    updates gave classifier-FID 1.9 (recall 0.83) at 1e-3 against 30 (recall 0.02) at 2e-4,
    and a CPU budget allows a few thousand updates. EMA decay 0.99 for the same reason: 0.999
    still averaged in the early, poor weights after 2000 updates (FID 5.2 against 1.9 raw).
    The cgan's critic sees the minibatch standard deviation within each class: on digits at
    2000 updates recall rose from 0.06 to 0.79 and FID fell from 1.78 to 0.46 (real-vs-real
    0.50); hinge loss with spectral norm gave recall 0.00 (``bench_results/images_s5.jsonl``).
    Its generator also carries the mode-seeking term at weight 2: on digits at 4000 updates,
    seeds 0 / 1 / 2, recall 0.86 / 0.81 / 0.86 against 0.80 / 0.75 / 0.78 without, FID 2.8 / 2.0
    / 2.4x real-vs-real against 1.0x, label accuracy 0.97 / 0.97 / 0.98; mbstd groups of 2 or 8,
    hinge loss, critic lr 5e-4 or EMA 0.995 moved recall less (``bench_results/images_s7.jsonl``).
    The dcgan's critic sees the minibatch standard deviation too: digits, 4000 updates, FID 0.97 /
    1.62 / 1.51x real-vs-real and recall 0.89 / 0.91 / 0.90 on seeds 0 / 1 / 2; without it FID
    3.5 / 2.9 / 3.3x, recall 0.88 / 0.89 / 0.88 (same file). So does the WGAN-GP critic's: digits, 800
    updates x 5 critic steps, FID 1.78 / 2.95 / 1.64x real-vs-real and recall 0.92 / 0.94 / 0.92 on seeds
    0 / 1 / 2; without it FID 1.74 / 3.12 / 1.74x (seed 1 over the 3x bar), recall 0.90 / 0.94 / 0.92 (same file).
    """
    base: dict = {"model": model}
    if model == "cgan":  # the measured changes against within-class collapse (see above)
        base.update(minibatch_std=True, mode_seeking=2.0)
    if model in ("dcgan", "wgan-gp"):
        base.update(minibatch_std=True)
    if model == "wgan-gp":
        base.update(lr_generator=1e-4, lr_critic=1e-4, beta1=0.0, beta2=0.9, n_critic=5)
    return ImageGANConfig(**{**base, **overrides})


def preset_notes() -> dict[str, str]:
    """``field -> "dcgan/cgan 0.001, wgan-gp 0.0001"`` for the fields whose default the model's preset decides."""
    by_model = {m: dataclasses.asdict(preset(m)) for m in MODELS}
    notes = {}
    for name in by_model["dcgan"]:
        if name == "model" or len({repr(c[name]) for c in by_model.values()}) == 1:
            continue
        groups: dict[str, list[str]] = {}
        for m, c in by_model.items():
            groups.setdefault(str(c[name]), []).append(m)
        notes[name] = ", ".join(f"{'/'.join(ms)} {v}" for v, ms in groups.items())
    return notes


class ImageGAN:
    """Generator, critic, their Adam optimisers and the generator's EMA, for one config and image shape.

    ``dist`` (from ``core.distributed.init_from_env``) makes this one rank of a data-parallel
    run: batch norm over the global batch, rank 0's initial weights on every rank.
    """

    def __init__(
        self,
        *,
        config: ImageGANConfig,
        image_shape: tuple[int, int, int],
        n_classes: int,
        dist: DistContext | None = None,
    ) -> None:
        self.config, self.image_shape, self.n_classes, self.dist = config, tuple(image_shape), n_classes, dist
        world = dist.world_size if dist is not None else 1
        if config.batch_size % world:
            raise GenplayError(f"--batch-size: {config.batch_size} does not split over {world} ranks (a multiple)")
        self.device = select_device(config.device)
        k = n_classes if config.conditional else 0
        with seeded(config.seed):  # weights from the seed alone; the caller's RNG untouched
            self.generator = Generator(
                z_dim=config.z_dim, image_shape=self.image_shape, n_classes=k, base_channels=config.base_channels
            ).to(self.device)
            norm = "layer" if config.model == "wgan-gp" else "none"
            self.critic = Critic(
                image_shape=self.image_shape,
                n_classes=k,
                base_channels=config.base_channels,
                norm=norm,
                spectral_norm=config.spectral_norm,
                minibatch_std=config.minibatch_std,
                minibatch_std_group=config.minibatch_std_group,
            )
            self.critic.to(self.device)
            sync_batch_norm(self.generator, dist)
            broadcast_module(self.generator, dist)
            broadcast_module(self.critic, dist)
        betas = (config.beta1, config.beta2)
        self.g_opt = torch.optim.Adam(self.generator.parameters(), lr=config.lr_generator, betas=betas)
        self.d_opt = torch.optim.Adam(self.critic.parameters(), lr=config.lr_critic, betas=betas)
        self.ema = EMA(self.generator, decay=config.ema_decay) if config.ema_decay > 0 else None
        self.step = 0
        self.history: list[dict] = []

    @property
    def is_main(self) -> bool:
        """Whether this process writes files (one process, or rank 0)."""
        return self.dist is None or self.dist.is_main

    @property
    def sampler(self) -> Generator:
        """The generator used for samples and metrics: the EMA copy when enabled."""
        return self.ema.module if self.ema is not None else self.generator  # type: ignore[return-value]

    def train(
        self,
        data: ImageData,
        *,
        out_dir: str | Path | None = None,
        log_every: int = 100,
        callback: Callable[[ImageGAN, dict], None] | None = None,
        progress: bool = False,
    ) -> list[dict]:
        """Run up to ``config.steps`` generator updates (continuing from ``self.step``); returns the history.

        A NaN or inf loss stops the run (``NonFiniteError``) before anything is written; ``progress``
        prints a line at least every 10 s.
        """
        if tuple(data.shape) != self.image_shape:
            raise GenplayError(f"data {data.name} has images {data.shape}, the model expects {self.image_shape}")
        cfg = self.config
        if self.step == 0:  # a fresh run seeds what it samples with (the constructor left global state alone)
            seed_everything(cfg.seed)
        labels = data.train_labels if cfg.conditional else None
        stream = batches(data.train_images, labels, cfg.batch_size, seed=cfg.seed + self.step, device=self.device)
        stream = sorted_by_label(stream)  # minibatch std compares images of one class (a no-op without labels)
        stream = rank_rows(stream, self.dist)  # this rank's rows of each global batch
        writes = out_dir is not None and self.is_main
        step_cfg = cfg.step_config()
        self.generator.train()
        self.critic.train()
        start = time.perf_counter()
        beat = Heartbeat("images train", cfg.steps, enabled=progress and self.is_main)
        while self.step < cfg.steps:
            stats = adversarial_round(
                generator=self.generator,
                critic=self.critic,
                g_optimizer=self.g_opt,
                d_optimizer=self.d_opt,
                batches=stream,
                z_dim=cfg.z_dim,
                config=step_cfg,
                ema=self.ema,
                dist=self.dist,
            )
            self.step += 1
            stats = mean_over_ranks(stats, self.dist)  # every rank sees the same losses, so all stop on a NaN
            check_finite(self.step, stats)
            beat.beat(self.step, f"d_loss {stats['d_loss']:.3f} g_loss {stats['g_loss']:.3f}")
            if self.step % log_every == 0 or self.step == cfg.steps:
                row = {"step": self.step, "seconds": time.perf_counter() - start, **stats}
                self.history.append(row)
                if callback is not None and self.is_main:
                    callback(self, row)
            if writes and (self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps):
                self.save_checkpoint(Path(out_dir) / "checkpoint.pt")
        if writes:
            self.save_generator(out_dir, dataset=data.name)
        return self.history

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, *, seed: int = 0) -> torch.Tensor:
        """``n`` images in [-1, 1] on the CPU; ``labels`` (conditional models) default to 0..K-1 cyclically."""
        return sample(self.sampler, n, labels, seed=seed)

    # ------------------------------------------------------------------ persistence

    def state_dict(self) -> dict:
        return {
            "config": dataclasses.asdict(self.config),
            "step": self.step,
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict(),
            "g_opt": self.g_opt.state_dict(),
            "d_opt": self.d_opt.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "history_json": json.dumps(self.history),
            "torch_rng": torch.get_rng_state(),
            **self._world(),
        }

    def _world(self) -> dict:
        """How many ranks trained (metadata only: a checkpoint resumes on any number)."""
        d = self.dist
        return {"world_size": d.world_size if d is not None else 1, "backend": d.backend if d is not None else None}

    def save_checkpoint(self, path: str | Path) -> None:
        """Everything to resume, as one checksummed ``state_io`` file (refused if any weight is NaN or inf)."""
        check_finite_modules(self.step, {"generator": self.generator, "critic": self.critic})
        save_state(path, self.state_dict())

    def load_checkpoint(self, path: str | Path) -> None:
        state = load_state(path)  # refuses damaged, pickled or foreign files, naming the file
        try:
            got = state["config"]["model"]
        except (KeyError, TypeError):
            raise CheckpointError(f"{path}: not an image-GAN checkpoint (no config.model)") from None
        if got != self.config.model:
            raise CheckpointError(f"{path}: checkpoint of model {got}, not {self.config.model}")
        check_finite_tree({k: state.get(k) for k in ("generator", "critic", "ema", "g_opt", "d_opt")}, str(path))
        try:
            self.generator.load_state_dict(state["generator"])
            self.critic.load_state_dict(state["critic"])
            self.g_opt.load_state_dict(state["g_opt"])
            self.d_opt.load_state_dict(state["d_opt"])
            if self.ema is not None and state["ema"] is not None:
                self.ema.load_state_dict(state["ema"])
            self.step = check_int("step", state["step"], 0, LIMITS["steps"])
            self.history = json.loads(state["history_json"])
            torch.set_rng_state(state["torch_rng"])
        except (KeyError, RuntimeError, ValueError, TypeError, GenplayError) as exc:
            raise CheckpointError(f"{path}: checkpoint does not match this config ({exc})") from None

    def save_generator(self, out_dir: str | Path, *, dataset: str) -> None:
        """``generator.pt`` (a ``state_io`` file: the sampling generator and its metadata) and
        ``model.json`` (the same metadata as plain JSON, how to rebuild the generator)."""
        out = Path(out_dir)
        meta = {
            "config": dataclasses.asdict(self.config),
            "image_shape": list(self.image_shape),
            "n_classes": self.n_classes,
            "dataset": dataset,
            "step": self.step,
            **self._world(),
        }
        check_finite_modules(self.step, {"generator": self.sampler})
        weights = {k: v.detach().cpu() for k, v in self.sampler.state_dict().items()}
        save_state(out / "generator.pt", {"kind": KIND, "meta": meta, "weights": weights})
        atomic_write(out / "model.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))


def check_image_shape(shape: object, n_classes: object, where: str) -> tuple[tuple[int, int, int], int]:
    """``(C, H, W)`` and a class count within the bounds a generator is built for, else one error naming ``where``."""
    if not (isinstance(shape, (list, tuple)) and len(shape) == 3):
        raise GenplayError(f"{where}: image_shape: expected [C, H, W], got {shape!r}")
    c = check_int(f"{where}: image_shape channels", shape[0], 1, MAX_CHANNELS)
    h = check_int(f"{where}: image_shape height", shape[1], 4, MAX_SIDE)
    w = check_int(f"{where}: image_shape width", shape[2], 4, MAX_SIDE)
    if h % 4 or w % 4:
        raise GenplayError(f"{where}: image_shape: height and width must be multiples of 4, got {h}x{w}")
    return (c, h, w), check_int(f"{where}: n_classes", n_classes, 0, MAX_CLASSES)


def load_generator(run_dir: str | Path) -> tuple[Generator, dict]:
    """The trained generator of a ``genplay images train`` run directory, in eval mode, and its metadata.

    ``model.json`` says how to build it (every size bounded); ``generator.pt`` holds the weights
    (checksummed, refused if damaged or non-finite).
    """
    run_dir = Path(run_dir)
    meta_path = run_dir / "model.json"
    if not meta_path.is_file() or not (run_dir / "generator.pt").is_file():
        missing = "model.json" if not meta_path.is_file() else "generator.pt"
        raise CheckpointError(f"--run: {run_dir} is not an images train output ({missing} missing)")
    try:
        meta = json.loads(meta_path.read_text())
        cfg = ImageGANConfig(**{k: v for k, v in meta["config"].items() if k != "device"})
        shape, n_classes = check_image_shape(meta["image_shape"], meta["n_classes"], str(meta_path))
    except (OSError, KeyError, TypeError, ValueError, AttributeError, GenplayError) as exc:
        raise CheckpointError(f"--run: {meta_path} is unusable ({exc})") from None
    state = load_state(run_dir / "generator.pt")
    weights = state.get("weights")
    if state.get("kind") != KIND or not isinstance(weights, dict):
        raise CheckpointError(f"{run_dir / 'generator.pt'}: not an image generator (kind {state.get('kind')!r})")
    check_finite_tree(weights, str(run_dir / "generator.pt"))
    k = n_classes if cfg.model == "cgan" else 0
    gen = Generator(z_dim=cfg.z_dim, image_shape=shape, n_classes=k, base_channels=cfg.base_channels)
    try:
        gen.load_state_dict(weights)
    except RuntimeError as exc:
        why = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"{run_dir / 'generator.pt'}: does not match model.json ({why})") from None
    return gen.eval(), meta


@torch.no_grad()
def sample(
    generator: Generator, n: int, labels: torch.Tensor | None = None, *, seed: int = 0, batch_size: int = 500
) -> torch.Tensor:
    """``n`` images from ``generator`` (eval mode, seeded noise), on the CPU.

    Conditional generators take ``labels`` (default: 0, 1, ..., K-1, 0, ... so classes are balanced).
    """
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.z_dim, generator=g)
    if generator.n_classes:
        labels = torch.arange(n) % generator.n_classes if labels is None else labels.long()
        if len(labels) != n or labels.min() < 0 or labels.max() >= generator.n_classes:
            raise GenplayError(f"--labels: expected {n} labels in 0..{generator.n_classes - 1}")
    else:
        labels = None
    out = []
    for i in range(0, n, batch_size):
        y = labels[i : i + batch_size].to(device) if labels is not None else None
        out.append(generator(z[i : i + batch_size].to(device), y).cpu())
    generator.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, *generator.image_shape)
