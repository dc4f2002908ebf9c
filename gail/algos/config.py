"""GAIL's settings, split as the algorithm is: a reward model, a learner, BC, and the run.

:class:`GAILConfig` holds :class:`RunConfig` (``config.run``), the reward model's
``gail.rewards.config.RewardModelConfig`` (``config.reward``), :class:`BCConfig` (``config.bc``)
and the PPO learner's :class:`PPOConfig` (``config.ppo``), plus the few settings of how the
generator sees the env. Each field's docstring is its ``--help`` text in the CLI, where the
sections keep flat flag names (``--seed``, ``--disc-lr``, ``--bc-epochs``, ``--ppo-gamma``);
:func:`replace` takes those names, and :func:`config_from_dict` reads a run's stored settings in
the nested layout or the flat one of runs written before the split. Presets are plain functions
of the env id (``presets.py``); a field set on the command line overrides the preset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stable_baselines3.common.utils import LinearSchedule

from genplay.gail.rewards.config import ACTIVATION, MAX_BATCH, RewardModelConfig
from genplay.settings import (
    DISCOUNT,
    NON_NEGATIVE,
    POSITIVE,
    STEP_SIZE,
    UNIT,
    Device,
    Int,
    Layers,
    OneOf,
    Rule,
    check_fields,
    flat_settings,
    replace_flat,
    section,
    settings_from_dict,
)

POLICIES = ("auto", "MlpPolicy", "CnnPolicy", "MultiInputPolicy")


@dataclass(frozen=True)
class PPOConfig:
    """Hyper-parameters of the PPO generator (stable-baselines3 names)."""

    n_steps: int = 256
    """Steps per env per rollout (rollout size = n_steps * n_envs)."""
    batch_size: int = 512
    """PPO minibatch size."""
    n_epochs: int = 10
    """PPO epochs over each rollout."""
    learning_rate: float = 3e-4
    """Adam step size of the policy and value nets (SB3's default; 1e-3 made GAIL's policy drift
    once it matched the expert on MountainCar)."""
    anneal_lr: bool = True
    """Decay the step size linearly to 0 over the run (as CleanRL's PPO does by default)."""
    gamma: float = 0.99
    """Discount factor (also used for the absorbing-state value)."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_range: float = 0.2
    """PPO clipping parameter."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient. 0 by default: a bonus keeps the policy broad where the expert is
    sharp (MountainCar's push-with-velocity rule: 0.61-0.93 normalised with 0.01, 0.99 without)."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Gradient clipping of the policy update."""
    use_sde: bool = False
    """State-dependent exploration (continuous actions)."""
    sde_sample_freq: int = -1
    """Resample the SDE noise every this many steps (-1: once per rollout)."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden layers of the policy and value nets (after the features extractor)."""
    activation: str = "tanh"
    """Activation of the policy and value nets: tanh, relu, leaky_relu, elu, silu."""
    policy: str = "auto"
    """SB3 policy class: auto (MlpPolicy for vectors, CnnPolicy for images, MultiInputPolicy for
    Dict observations), or one of those names."""

    def __post_init__(self) -> None:
        check_fields(self, PPO_RULES)

    def sb3_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of SB3's PPO/A2C constructor (the policy class excluded)."""
        from genplay.generative.core.networks import ACTIVATIONS

        kw = dataclasses.asdict(self)
        arch = list(kw.pop("net_arch"))
        activation, _ = kw.pop("activation"), kw.pop("policy")
        if kw.pop("anneal_lr"):
            kw["learning_rate"] = LinearSchedule(self.learning_rate, 0.0, 1.0)
        kw["policy_kwargs"] = {"net_arch": {"pi": arch, "vf": arch}, "activation_fn": ACTIVATIONS[activation]}
        return kw


@dataclass(frozen=True)
class RunConfig:
    """Where and how a run executes: envs, seed, checkpoints, threads, device (a resume may change the
    last three, :data:`RUN_FIELDS`)."""

    n_envs: int = 8
    """Parallel environments of the generator."""
    seed: int = 0
    """Seed of everything (policy, discriminator, envs, replay sampling)."""
    checkpoint_every: int = 50_000
    """Write a checkpoint every this many generator steps (0 = only at the end)."""
    torch_threads: int = 1
    """torch intra-op threads; 1 is fastest for these small nets on 2 cores."""
    device: str = "auto"
    """torch device: auto (CUDA when present), cpu, cuda:0, ..."""

    def __post_init__(self) -> None:
        check_fields(self, RUN_RULES)


@dataclass(frozen=True)
class BCConfig:
    """Behaviour cloning on the demos: the warm start before the learner, and BC beside it (an auxiliary
    loss, or the board games' regulariser). Its fields are the ``--bc-*`` flags."""

    epochs: int = 100
    """Most epochs of the behaviour-cloning warm start (0 = off). It stops early when the
    log-likelihood of held-out demo episodes stops improving, and keeps the best epoch."""
    patience: int = 5
    """Epochs without held-out improvement before BC stops."""
    batch_size: int = 256
    """Minibatch size of the BC warm start."""
    lr: float = 1e-3
    """Adam step size of the BC warm start."""
    match_noise: bool = True
    """Continuous actions: after BC, scale the policy's action noise to BC's held-out error (RMS), so
    the first rollouts act like the clone and PPO's first updates stay near it (the fresh noise is as
    wide as the action range; without it Pendulum's first update lost the clone: scripts/bench_warmstart.py)."""
    fit_value: bool = True
    """After BC, fit the critic to the first rollout's returns before PPO's first update (a fresh
    critic's advantages are noise, and the update on them moves the cloned policy at random)."""
    aux_steps: int = 0
    """BC as an auxiliary loss: this many BC minibatch steps (bc_batch_size demo rows, the policy's
    own optimiser) after every generator update; 0 = off."""
    aux_weight: float = 1.0
    """Weight of the auxiliary BC loss."""
    reg_steps: int = 0
    """BC-regularised GAIL (the board-game recipe): this many BC minibatch steps on the demos (256
    rows, masked) after every generator update, with an Adam of their own at the PPO step size;
    0 = off. Unlike bc_aux_steps it leaves the policy's optimiser alone; on resume its Adam restarts."""

    def __post_init__(self) -> None:
        check_fields(self, BC_RULES)


@dataclass(frozen=True)
class GAILConfig:
    """GAIL settings: a reward model, BC, a PPO learner and the run, plus how the generator sees the env.

    Each part is a frozen config of its own (``config.reward.disc_lr``, ``config.bc.epochs``,
    ``config.ppo.gamma``, ``config.run.seed``); on the command line and in :func:`replace` they keep
    their flat names (``--disc-lr``, ``--bc-epochs``, ``--ppo-gamma``, ``--seed``)."""

    run: RunConfig = section(RunConfig, "")
    """Where and how the run executes."""
    reward: RewardModelConfig = section(RewardModelConfig, "")
    """The discriminator and its reward."""
    bc: BCConfig = section(BCConfig, "bc_")
    """Behaviour cloning: warm start, auxiliary loss, regulariser."""
    ppo: PPOConfig = section(PPOConfig, "ppo_")
    """The generator's settings."""
    normalize_policy_obs: bool = True
    """Feed the policy observations scaled by the demos: vectors by their mean and std (SB3's
    VecNormalize, frozen), frame stacks centred on the mean demo frame inside the policy's CNN
    (``CenteredNatureCNN``) instead of SB3's /255. Dict observations are left to SB3."""
    train_opponent: str = ""
    """Board games: the opponent bot of the generator's env (random, mcts:N, alphabeta:D, solver;
    several joined by | are drawn per game); empty = the opponents the demos were played against."""
    symmetric_policy: bool = False
    """Board games: the generator's logits and value are averaged over the board's symmetries
    (SymmetricMaskablePolicy), so the policy is exactly invariant under them."""
    demo_symmetries: bool = False
    """Board games: train on the demos plus their images under the board's symmetries (8 for
    tic-tac-toe, the mirror for connect four, 4 for othello)."""

    def __post_init__(self) -> None:
        check_fields(self, {})  # each section is its class (its fields were checked when it was built)
        if self.run.n_envs * self.ppo.n_steps < 2:
            raise ValueError(
                f"GAILConfig.n_envs: n_envs * ppo.n_steps must be >= 2 (one rollout), "
                f"got {self.run.n_envs * self.ppo.n_steps}"
            )
        if self.train_opponent:
            from genplay.envs.board_bots import parse_bot_spec

            for spec in self.train_opponent.split("|"):
                try:
                    parse_bot_spec(spec)
                except ValueError as exc:
                    raise ValueError(f"GAILConfig.train_opponent: {exc}") from None
        if self.reward.absorbing and not self.ppo.gamma < 1.0:
            raise ValueError(
                f"GAILConfig.absorbing needs ppo.gamma < 1 (the absorbing tail is infinite), got {self.ppo.gamma}"
            )


def check_ppo_for_spaces(ppo: PPOConfig, observation_space: Any, action_space: Any) -> None:
    """Refuse PPO settings the env's spaces cannot take (one ``ValueError`` naming the field), before SB3
    meets them deep inside its constructor: a CNN policy on vectors, gSDE on discrete actions."""
    from gymnasium import spaces
    from stable_baselines3.common.preprocessing import is_image_space

    if ppo.policy == "CnnPolicy" and not is_image_space(observation_space, check_channels=False):
        raise ValueError(f"PPOConfig.policy: CnnPolicy needs image observations, the env has {observation_space}")
    if ppo.policy == "MultiInputPolicy" and not isinstance(observation_space, spaces.Dict):
        raise ValueError(f"PPOConfig.policy: MultiInputPolicy needs Dict observations, the env has {observation_space}")
    if ppo.policy == "MlpPolicy" and isinstance(observation_space, spaces.Dict):
        raise ValueError("PPOConfig.policy: MlpPolicy cannot take Dict observations; use auto or MultiInputPolicy")
    if ppo.use_sde and not isinstance(action_space, spaces.Box):
        raise ValueError(f"PPOConfig.use_sde: gSDE needs continuous (Box) actions, the env has {action_space}")


# ---------------------------------------------------------------------------- range checks

# One rule per field (genplay.generative.core.checks, the dialect every config uses); fields
# without a rule get a type check. Upper bounds are sized to a 2-core, 24 GB machine: a value past
# one is refused where it enters (flag, config file or checkpoint), with the limit named.
MAX_ENVS = 1024  # below sb3_io.MAX_ENVS, so a run's own policy.zip always loads back
MAX_STEPS = 1 << 20
PPO_RULES: dict[str, Rule] = {
    "n_steps": Int(1, MAX_STEPS),
    "batch_size": Int(2, MAX_BATCH),
    "n_epochs": Int(1, 10_000),
    "sde_sample_freq": Int(-1, MAX_STEPS),
    "learning_rate": STEP_SIZE,
    "gamma": DISCOUNT,
    "gae_lambda": UNIT,
    "clip_range": POSITIVE,
    "ent_coef": NON_NEGATIVE,
    "vf_coef": NON_NEGATIVE,
    "max_grad_norm": POSITIVE,
    "net_arch": Layers(),
    "activation": ACTIVATION,
    "policy": OneOf(POLICIES),
}
RUN_RULES: dict[str, Rule] = {
    "n_envs": Int(1, MAX_ENVS),
    "seed": Int(0, 2**31 - 1),
    "checkpoint_every": Int(0),
    "torch_threads": Int(1, 256),
    "device": Device(),
}
BC_RULES: dict[str, Rule] = {
    "epochs": Int(0, 100_000),
    "patience": Int(1),
    "batch_size": Int(1, MAX_BATCH),
    "lr": STEP_SIZE,
    "aux_steps": Int(0, 100_000),
    "aux_weight": POSITIVE,
    "reg_steps": Int(0, 100_000),
}
RUN_FIELDS = ("device", "torch_threads", "checkpoint_every")
"""Settings of where and how a run executes, not of what it learns: a resume may change them."""


def replace(config: GAILConfig, **changes: Any) -> GAILConfig:
    """``dataclasses.replace`` taking settings by their flat (flag) names too: ``disc_lr`` (the reward model's),
    ``bc_epochs``, ``ppo_gamma``, ``seed`` (the run's), as the command line and older runs' files name them."""
    return replace_flat(config, **changes)


def config_from_dict(data: Mapping[str, Any], cls: type[GAILConfig] | None = None) -> GAILConfig:
    """A config (``cls``: GAILConfig or a subclass, e.g. AIRL's) from a run's stored dict: the nested layout
    (``dataclasses.asdict``) or the flat one of runs written before the config was split (``disc_lr``,
    ``bc_epochs``, ``seed`` beside ``ppo``). Unknown or invalid fields raise ``TypeError``/``ValueError``."""
    return settings_from_dict(cls or GAILConfig, data)


def config_differences(stored: GAILConfig, new: GAILConfig, ignore: tuple[str, ...] = RUN_FIELDS) -> list[str]:
    """``name: stored -> new`` for each setting that differs, by flat name (``disc_lr``, ``ppo_gamma``)."""
    a, b = flat_settings(stored), flat_settings(new)
    return [f"{k}: {a[k]!r} -> {b[k]!r}" for k in a if k not in ignore and a[k] != b.get(k)]


def atari_game_of(env_id: str) -> str | None:
    """The ALE game of a genplay Atari id (``genplay/Pong-v0`` -> ``Pong``), else None. The name alone
    does not tell: ALE has an Othello too, and ``genplay/Othello-v0`` is the board game (registered first)."""
    import gymnasium as gym

    name = env_id.removeprefix("genplay/").split("-")[0]
    if not env_id.startswith("genplay/") or name not in _atari_names():
        return None
    spec = gym.registry.get(env_id)
    return name if spec is None or spec.entry_point == "genplay.envs.atari:make_atari" else None


def _atari_names() -> set[str]:
    from genplay.envs.atari import ale_games, camel

    return {camel(g) for g in ale_games()}


def atari_preset(game: str | None = None) -> GAILConfig:
    """Pixel GAIL on ALE: PPO's Atari settings (Schulman et al. 2017; SB3 zoo) as generator, and a
    discriminator cheap enough to keep the loop within 1.3x of plain PPO's time; for a ``game``
    whose score display is known, the discriminator does not see it (``disc_hide_top_rows``)."""
    from genplay.envs.atari import score_rows

    ppo = PPOConfig(
        n_steps=128,
        batch_size=256,
        n_epochs=4,
        learning_rate=2.5e-4,
        clip_range=0.1,
        ent_coef=0.01,
        vf_coef=0.5,
        net_arch=(),
        activation="relu",
        policy="CnnPolicy",
    )
    reward = RewardModelConfig(
        disc_hidden=(256,),
        disc_activation="relu",
        disc_batch_size=128,
        disc_updates=1,
        disc_replay_rollouts=4,
        disc_hide_top_rows=score_rows(game) if game else 0,
    )
    return GAILConfig(run=RunConfig(n_envs=8, checkpoint_every=100_000), reward=reward, bc=BCConfig(epochs=0), ppo=ppo)
