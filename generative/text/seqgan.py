"""SeqGAN (Yu et al. 2017) on the shared core: a token policy trained by policy gradient on D's reward.

Conventions (the same as GAIL's): the discriminator's logits are high for real text; the reward
of a sequence is ``reward_from_logits(logit, form)`` from the core (the very function GAIL's
reward uses); the discriminator trains through the core's ``discriminator_step``. A token
``x_t`` is an action taken in state ``x_<t``; its return ``Q(x_1..x_t)`` is the mean reward of
``n_rollouts`` Monte Carlo completions of the prefix by a slowly-moving copy of the generator
(SeqGAN's rollout network with update rate 0.8 is exactly the core's ``EMA`` with decay 0.8),
and the last token's return is the reward of the sequence itself. ``baseline=True`` subtracts
the batch mean of the return at each position (a baseline SeqGAN lacks).

The baseline changes more than the variance. SeqGAN's own rewards are positive and unbaselined,
so every step also raises the likelihood of the generator's own samples, which lowers its
entropy. On the oracle benchmark that is where SeqGAN's NLL_oracle gain comes from: a frozen,
untrained discriminator (``disc_steps=0``, no pretraining) gives the same gain
(BENCHMARKS.md, "Text").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from genplay.generative.core.checks import check_finite
from genplay.generative.core.losses import DISCRIMINATOR_LOSSES, GENERATOR_LOSSES, PENALTIES
from genplay.generative.core.rewards import REWARD_FORMS, reward_from_logits
from genplay.generative.core.step import DiscriminatorStepConfig, discriminator_step
from genplay.generative.core.utils import EMA, seeded
from genplay.generative.text.discriminator import CNNDiscriminator
from genplay.generative.text.gumbel import gumbel_sequences
from genplay.generative.text.models import State, TokenLM, sample, sample_logits, token_nll
from genplay.settings import DECAY, Int, OneOf, Real, Rule, check_fields

VARIANTS = ("seqgan", "gumbel")
# sizes a 2-core, 24 GB machine handles: MC rollouts hold batch x seq_len x vocab logits at once
INT_BOUNDS = {"emb_dim": (1, 1024), "hidden_dim": (1, 1024), "batch_size": (1, 512), "disc_emb_dim": (1, 1024)}
INT_BOUNDS.update(disc_filters=(1, 512), n_rollouts=(0, 64), disc_steps=(0, 100), seed=(0, 2**31 - 1))
TEXT_RULES: dict[str, Rule] = {name: Int(low, high) for name, (low, high) in INT_BOUNDS.items()}
TEXT_RULES.update({name: Real(0.0, 1.0, low_open=True) for name in ("mle_lr", "gen_lr", "disc_lr")})
TEXT_RULES.update(grad_clip=Real(0.0, 1e6, low_open=True), gumbel_tau=Real(0.0, 100.0, low_open=True))
TEXT_RULES.update(disc_dropout=DECAY, rollout_decay=DECAY, disc_penalty_weight=Real(0.0, 1e6))
TEXT_RULES.update(disc_weight_decay=Real(0.0, 10.0))
TEXT_RULES.update(reward_form=OneOf(REWARD_FORMS), variant=OneOf(VARIANTS))
TEXT_RULES.update(disc_loss=OneOf(tuple(sorted(DISCRIMINATOR_LOSSES))), disc_penalty=OneOf(PENALTIES))


@dataclass(frozen=True)
class TextGANConfig:
    """Generator, discriminator and training schedule of a sequence GAN (defaults: SeqGAN's oracle set-up)."""

    emb_dim: int = 32
    """Generator token embedding size (SeqGAN: 32)."""
    hidden_dim: int = 32
    """Generator LSTM hidden size (SeqGAN: 32)."""
    batch_size: int = 64
    """Sequences per MLE step, per generator policy-gradient step and per discriminator step."""
    mle_lr: float = 0.01
    """Adam learning rate of MLE pretraining (SeqGAN: 0.01)."""
    grad_clip: float = 5.0
    """Global gradient-norm clip of every generator step (SeqGAN: 5)."""
    gen_lr: float = 0.001
    """Adam learning rate of the adversarial (policy-gradient) generator steps."""
    variant: str = "seqgan"
    """Generator update: seqgan (policy gradient on MC-rollout returns) or gumbel (Gumbel-softmax, RelGAN)."""
    gumbel_tau: float = 0.1
    """Temperature of the relaxed one-hots of the gumbel variant (RelGAN's 1/beta)."""
    n_rollouts: int = 16
    """Monte Carlo completions per prefix (SeqGAN: 16); 0 = REINFORCE on the whole sequence's reward."""
    rollout_decay: float = 0.8
    """EMA decay of the rollout network (SeqGAN's update rate 0.8)."""
    reward_form: str = "logit"
    """Reward from D's logit: logit (log D - log(1-D)), positive (-log(1-D)) or negative (log D)."""
    baseline: bool = True
    """Subtract the batch-mean return at each position; False with ``positive`` is SeqGAN's published form."""
    disc_emb_dim: int = 64
    """Discriminator token embedding size."""
    disc_filters: int = 32
    """Convolution filters per width in the discriminator."""
    disc_dropout: float = 0.25
    """Dropout before the discriminator's last layer."""
    disc_lr: float = 1e-4
    """Adam learning rate of the discriminator (SeqGAN: 1e-4)."""
    disc_weight_decay: float = 0.0
    """Decoupled weight decay of the discriminator (AdamW when > 0): one guard against memorising the data."""
    disc_loss: str = "bce"
    """Discriminator loss: bce, least_squares, hinge, wasserstein."""
    disc_penalty: str = "none"
    """Gradient penalty on embedded inputs: none, r1, wgan_gp."""
    disc_penalty_weight: float = 1.0
    """Weight of the gradient penalty."""
    disc_steps: int = 3
    """Discriminator steps (fresh generator samples each) per generator step; 0 freezes D (an ablation)."""
    seed: int = 0
    """Seed of parameters and sampling."""

    def __post_init__(self) -> None:
        check_fields(self, TEXT_RULES)


def make_discriminator(config: TextGANConfig, vocab_size: int, seq_len: int) -> CNNDiscriminator:
    """A fresh sequence discriminator of the shape ``config`` sets."""
    return CNNDiscriminator(
        vocab_size=vocab_size,
        seq_len=seq_len,
        emb_dim=config.disc_emb_dim,
        num_filters=config.disc_filters,
        dropout=config.disc_dropout,
    )


@torch.no_grad()
def rollout_returns(
    policy: TokenLM,
    disc_logits: Callable[[torch.Tensor], torch.Tensor],
    tokens: torch.Tensor,
    *,
    n_rollouts: int,
    reward_form: str = "logit",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``(B, T)`` returns ``Q(x_1..x_t)``: mean reward of ``n_rollouts`` completions of each prefix.

    Batched: one pass reads every prefix of the batch; each rollout then completes all
    ``B * (T-1)`` prefixes at once. Rows are ordered by prefix length, so at completion step
    ``k`` the rows still generating are a leading slice (no work is spent on finished rows).
    """
    B, T = tokens.shape
    final = reward_from_logits(disc_logits(tokens), reward_form)
    if n_rollouts == 0:  # REINFORCE variant: every token's return is the whole sequence's reward
        return final.unsqueeze(1).expand(B, T).clone()
    (h, c), logits = policy.prefix_states(tokens)  # (B, T-1, .): prefix lengths 1..T-1
    h0, c0 = h.transpose(0, 1).reshape(1, -1, h.shape[-1]), c.transpose(0, 1).reshape(1, -1, c.shape[-1])
    logits0 = logits.transpose(0, 1).reshape(-1, logits.shape[-1])  # row (t-1) * B + b
    prefix_len = torch.arange(1, T, device=tokens.device).repeat_interleave(B)
    base = tokens.repeat(T - 1, 1)  # row (t-1) * B + b holds sequence b
    rows = torch.arange(len(base), device=tokens.device)
    returns = torch.zeros(B, T, device=tokens.device)
    for _ in range(n_rollouts):
        seqs, step_logits, state = base.clone(), logits0, (h0, c0)
        for k in range(T - 1):
            n = (T - 1 - k) * B  # rows with prefix length t <= T-1-k still have tokens to fill
            tok = sample_logits(step_logits[:n], generator=generator)
            seqs[rows[:n], prefix_len[:n] + k] = tok
            if k < T - 2:
                m = n - B
                step_state: State = (state[0][:, :m].contiguous(), state[1][:, :m].contiguous())
                step_logits, state = policy.step(tok[:m], step_state)
        r = reward_from_logits(disc_logits(seqs), reward_form)
        returns[:, :-1] += r.view(T - 1, B).t()
    returns[:, :-1] /= n_rollouts
    returns[:, -1] = final
    return returns


def policy_gradient_loss(policy: TokenLM, tokens: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """REINFORCE: ``-mean_t log p(x_t | x_<t) * A_t`` (SeqGAN's generator objective, averaged)."""
    return (token_nll(policy, tokens) * advantages).mean()


class SeqGAN:
    """MLE pretraining, discriminator pretraining and adversarial steps of SeqGAN, on the core.

    ``data`` is a ``(N, T)`` int64 tensor of real sequences. Keyword-only; the models can be
    passed built (e.g. an MLE-pretrained generator) or are made from ``config``.
    """

    def __init__(
        self,
        *,
        data: torch.Tensor,
        vocab_size: int,
        config: TextGANConfig = TextGANConfig(),
        generator: TokenLM | None = None,
        discriminator: CNNDiscriminator | None = None,
        device: str | torch.device = "cpu",
        start_token: int = 0,
    ) -> None:
        self.config, self.device = config, torch.device(device)
        self.data = data.to(self.device)
        self.seq_len = data.shape[1]
        self.rng = torch.Generator(device=self.device).manual_seed(config.seed)
        with seeded(config.seed):  # weights from the seed alone; the caller's RNG untouched
            self.generator = generator or TokenLM(
                vocab_size=vocab_size, emb_dim=config.emb_dim, hidden_dim=config.hidden_dim, start_token=start_token
            ).init_normal_(0.1)
            self.generator.to(self.device)
            self.discriminator = (discriminator or make_discriminator(config, vocab_size, self.seq_len)).to(self.device)
        self.mle_opt = torch.optim.Adam(self.generator.parameters(), lr=config.mle_lr)
        self.gen_opt = torch.optim.Adam(self.generator.parameters(), lr=config.gen_lr)
        d_params, wd = self.discriminator.parameters(), config.disc_weight_decay
        self.disc_opt = (
            torch.optim.AdamW(d_params, lr=config.disc_lr, weight_decay=wd)
            if wd > 0
            else torch.optim.Adam(d_params, lr=config.disc_lr)
        )
        self.disc_step_config = DiscriminatorStepConfig(
            loss=config.disc_loss, penalty=config.disc_penalty, penalty_weight=config.disc_penalty_weight
        )
        self.rollout: EMA | None = None  # made when adversarial training starts, from the MLE generator
        self.history: list[dict] = []
        self.mle_updates = self.adv_steps = self.disc_updates = 0

    # ------------------------------------------------------------------ MLE
    def mle_epoch(self, deadline: float | None = None, beat: Callable[[], None] | None = None) -> float:
        """One pass over the data in shuffled batches; returns the mean training NLL per token.

        ``beat`` is called after every batch (progress lines); a NaN or inf loss stops the run.
        """
        perm = torch.randperm(len(self.data), generator=self.rng, device=self.device)
        total, n = 0.0, 0
        self.generator.train()
        for lo in range(0, len(perm), self.config.batch_size):
            batch = self.data[perm[lo : lo + self.config.batch_size]]
            loss = token_nll(self.generator, batch).mean()
            check_finite(f"MLE update {self.mle_updates + 1}", {"train_nll": loss})
            self._generator_update(self.mle_opt, loss)
            self.mle_updates += 1
            total, n = total + loss.item(), n + 1
            if beat is not None:
                beat()
            if deadline is not None and time.monotonic() > deadline:
                break
        return total / max(n, 1)

    def _generator_update(self, opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.generator.parameters(), self.config.grad_clip)
        opt.step()

    # ------------------------------------------------------------------ discriminator
    def sample(self, n: int, *, temperature: float = 1.0, top_k: int = 0, model: TokenLM | None = None) -> torch.Tensor:
        model = model or self.generator
        model.eval()
        return sample(model, n, self.seq_len, temperature=temperature, top_k=top_k, generator=self.rng)

    def discriminator_update(self, relaxed: bool = False) -> dict[str, float]:
        """One core ``discriminator_step``: a data batch against fresh generator samples, on embeddings.

        ``relaxed``: the fakes are the gumbel variant's relaxed one-hots, as its generator step sees them.
        """
        bs, cfg = self.config.batch_size, self.config
        real = self.data[torch.randint(len(self.data), (bs,), generator=self.rng, device=self.device)]
        d = self.discriminator.train()
        if relaxed:
            with torch.no_grad():
                _, soft = gumbel_sequences(self.generator, bs, self.seq_len, tau=cfg.gumbel_tau, generator=self.rng)
            fake = d.embed_soft(soft)
        else:
            fake = d.embed(self.sample(bs))
        stats = discriminator_step(d.score, self.disc_opt, d.embed(real), fake, self.disc_step_config)
        self.disc_updates += 1
        check_finite(f"discriminator update {self.disc_updates}", {f"d_{k}": v for k, v in stats.items()})
        return stats

    def pretrain_discriminator(self, steps: int) -> dict[str, float]:
        """``steps`` discriminator updates against the current (MLE) generator, before adversarial steps."""
        stats: dict[str, float] = {}
        for _ in range(steps):
            stats = self.discriminator_update(relaxed=self.config.variant == "gumbel")
        return stats

    # ------------------------------------------------------------------ adversarial
    def adversarial_step(self) -> dict[str, float]:
        """One generator policy-gradient step on MC-rollout returns, then ``disc_steps`` D steps."""
        cfg = self.config
        if cfg.variant == "gumbel":
            return self._gumbel_step()
        if self.rollout is None:
            self.rollout = EMA(self.generator, decay=cfg.rollout_decay)
        tokens = self.sample(cfg.batch_size)
        self.discriminator.eval()
        returns = rollout_returns(
            self.rollout.module,
            self.discriminator,
            tokens,
            n_rollouts=cfg.n_rollouts,
            reward_form=cfg.reward_form,
            generator=self.rng,
        )
        adv = returns - returns.mean(dim=0, keepdim=True) if cfg.baseline else returns
        self.generator.train()
        loss = policy_gradient_loss(self.generator, tokens, adv)
        self.adv_steps += 1
        check_finite(f"adversarial step {self.adv_steps}", {"pg_loss": loss, "return_mean": returns.mean()})
        self._generator_update(self.gen_opt, loss)
        self.rollout.update()
        d_stats: dict[str, float] = {}
        for _ in range(cfg.disc_steps):
            d_stats = self.discriminator_update()
        stats = {"pg_loss": loss.item(), "return_mean": float(returns.mean())}
        return {**stats, **{f"d_{k}": v for k, v in d_stats.items()}}

    def _gumbel_step(self) -> dict[str, float]:
        """Generator step through relaxed one-hots, then D steps on real vs relaxed fake sequences."""
        cfg, d = self.config, self.discriminator
        self.generator.train()
        d.eval()
        d.requires_grad_(False)
        _, soft = gumbel_sequences(self.generator, cfg.batch_size, self.seq_len, tau=cfg.gumbel_tau, generator=self.rng)
        loss = GENERATOR_LOSSES[cfg.disc_loss](d.score(d.embed_soft(soft)))
        self.adv_steps += 1
        check_finite(f"adversarial step {self.adv_steps}", {"gen_loss": loss})
        self._generator_update(self.gen_opt, loss)
        d.requires_grad_(True)
        d_stats: dict[str, float] = {}
        for _ in range(cfg.disc_steps):
            d_stats = self.discriminator_update(relaxed=True)
        return {"gen_loss": loss.item(), **{f"d_{k}": v for k, v in d_stats.items()}}

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict:
        """Tensors only (loadable with ``weights_only=True``); the config travels as a plain dict."""
        return {
            "config": asdict(self.config),
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "generator_shape": {
                "vocab_size": self.generator.vocab_size,
                "emb_dim": self.generator.emb_dim,
                "hidden_dim": self.generator.hidden_dim,
                "start_token": self.generator.start_token,
                "seq_len": self.seq_len,
            },
        }

    def trainer_state(self) -> dict:
        """Everything to resume (networks, optimisers, rollout network, RNGs, counters), for ``state_io``."""
        return {
            **self.state_dict(),
            "mle_opt": self.mle_opt.state_dict(),
            "gen_opt": self.gen_opt.state_dict(),
            "disc_opt": self.disc_opt.state_dict(),
            "rollout": self.rollout.state_dict() if self.rollout is not None else None,
            "rng": self.rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "counters": {"mle_updates": self.mle_updates, "adv_steps": self.adv_steps, "disc": self.disc_updates},
        }

    def load_trainer_state(self, state: dict) -> None:
        """Inverse of :meth:`trainer_state` (raises ``KeyError``/``RuntimeError``/``ValueError`` on a mismatch)."""
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        for name in ("mle_opt", "gen_opt", "disc_opt"):
            getattr(self, name).load_state_dict(state[name])
        if state["rollout"] is not None:
            self.rollout = EMA(self.generator, decay=self.config.rollout_decay)
            self.rollout.load_state_dict(state["rollout"])
        self.rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        c = state["counters"]
        self.mle_updates, self.adv_steps, self.disc_updates = int(c["mle_updates"]), int(c["adv_steps"]), int(c["disc"])
