"""Configuration dataclasses for GAIL and its PPO generator, with per-env presets.

Each field's docstring is its ``--help`` text in the CLI. Presets are plain functions of
the env id; a field set on the command line overrides the preset.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from stable_baselines3.common.utils import LinearSchedule

from genplay.generative.core.networks import ACTIVATIONS
from genplay.settings import (
    DISCOUNT,
    MAX_WIDTH,
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
class GAILConfig:
    """GAIL settings: the discriminator, its reward, and the run around it."""

    n_envs: int = 8
    """Parallel environments of the generator."""
    seed: int = 0
    """Seed of everything (policy, discriminator, envs, replay sampling)."""
    reward_form: str = "logit"
    """Reward from the discriminator: logit (log D - log(1-D)), positive (-log(1-D)), negative (log D)."""
    absorbing: bool = True
    """Absorbing states for terminations (DAC), so no survival or termination bias leaks in."""
    reward_clip: float = 10.0
    """Clip per-step rewards to [-reward_clip, reward_clip] (0 disables)."""
    absorbing_lr_scale: float = 50.0
    """Step size of the absorbing state's logit, relative to disc_lr."""
    absorbing_prior: float = 1.0
    """Prior absorbing mass on each side, in terminations: keeps the absorbing reward finite when
    one side never terminates (see gail/rewards/reward.py)."""
    scale_rewards: bool = True
    """Divide rewards by a running std of the discounted return before PPO sees them."""
    use_next_obs: bool = False
    """Feed the next observation to the discriminator as well."""
    disc_use_action: bool = True
    """Feed the action to the discriminator. Off (state-only, best with use_next_obs) when the
    expert's action frequencies alone give it away (Pong's scripted expert: 91 percent no-op)."""
    disc_hidden: tuple[int, ...] = (64, 64)
    """Hidden layers of the discriminator MLP."""
    disc_activation: str = "tanh"
    """Activation of the discriminator MLP."""
    disc_cnn_features: int = 256
    """Output width of the discriminator's NatureCNN encoder (image observations only)."""
    disc_hide_top_rows: int = 0
    """Rows at the top of each frame the discriminator does not see (Atari score displays; see
    envs.atari.SCORE_ROWS); 0 = it sees whole frames."""
    disc_spectral_norm: bool = False
    """Spectral normalisation on the discriminator's layers."""
    disc_loss: str = "bce"
    """Discriminator loss: bce, least_squares, hinge, wasserstein."""
    disc_penalty: str = "r1"
    """Gradient penalty: none, r1, wgan_gp."""
    disc_penalty_weight: float = 1.0
    """Weight of the gradient penalty (R1 on expert rows keeps the reward smooth and stops overfitting)."""
    disc_lr: float = 1e-3
    """Adam step size of the discriminator."""
    disc_batch_size: int = 512
    """Expert rows (and as many generator rows) per discriminator step."""
    disc_updates: int = 8
    """Discriminator steps per generator rollout."""
    disc_replay_rollouts: int = 4
    """Generator rollouts kept for discriminator replay (1 = only the latest)."""
    obs_norm: str = "demos"
    """Observation scaling of the discriminator: demos (fixed, fitted on the expert's data) or none.
    Running statistics are not offered: they blow up on envs whose failed states drift without
    bound (fixed-horizon CartPole), hiding the expert's region."""
    normalize_policy_obs: bool = True
    """Feed the policy observations scaled by the demos: vectors by their mean and std (SB3's
    VecNormalize, frozen), frame stacks centred on the mean demo frame inside the policy's CNN
    (``CenteredNatureCNN``) instead of SB3's /255. Dict observations are left to SB3."""
    bc_epochs: int = 100
    """Most epochs of the behaviour-cloning warm start (0 = off). It stops early when the
    log-likelihood of held-out demo episodes stops improving, and keeps the best epoch."""
    bc_patience: int = 5
    """Epochs without held-out improvement before BC stops."""
    bc_batch_size: int = 256
    """Minibatch size of the BC warm start."""
    bc_lr: float = 1e-3
    """Adam step size of the BC warm start."""
    bc_match_noise: bool = True
    """Continuous actions: after BC, scale the policy's action noise to BC's held-out error (RMS), so
    the first rollouts act like the clone and PPO's first updates stay near it (the fresh noise is as
    wide as the action range; without it Pendulum's first update lost the clone: scripts/bench_warmstart.py)."""
    bc_fit_value: bool = True
    """After BC, fit the critic to the first rollout's returns before PPO's first update (a fresh
    critic's advantages are noise, and the update on them moves the cloned policy at random)."""
    bc_aux_steps: int = 0
    """BC as an auxiliary loss: this many BC minibatch steps (bc_batch_size demo rows, the policy's
    own optimiser) after every generator update; 0 = off."""
    bc_aux_weight: float = 1.0
    """Weight of the auxiliary BC loss."""
    bc_reg_steps: int = 0
    """BC-regularised GAIL (the board-game recipe): this many BC minibatch steps on the demos (256
    rows, masked) after every generator update, with an Adam of their own at the PPO step size;
    0 = off. Unlike bc_aux_steps it leaves the policy's optimiser alone; on resume its Adam restarts."""
    train_opponent: str = ""
    """Board games: the opponent bot of the generator's env (random, mcts:N, alphabeta:D, solver;
    several joined by | are drawn per game); empty = the opponents the demos were played against."""
    symmetric_policy: bool = False
    """Board games: the generator's logits and value are averaged over the board's symmetries
    (SymmetricMaskablePolicy), so the policy is exactly invariant under them."""
    demo_symmetries: bool = False
    """Board games: train on the demos plus their images under the board's symmetries (8 for
    tic-tac-toe, the mirror for connect four, 4 for othello)."""
    checkpoint_every: int = 50_000
    """Write a checkpoint every this many generator steps (0 = only at the end)."""
    torch_threads: int = 1
    """torch intra-op threads; 1 is fastest for these small nets on 2 cores."""
    device: str = "auto"
    """torch device: auto (CUDA when present), cpu, cuda:0, ..."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """The generator's settings."""

    def __post_init__(self) -> None:
        check_fields(self, GAIL_RULES)
        if not isinstance(self.ppo, PPOConfig):
            raise ValueError(f"GAILConfig.ppo: must be a PPOConfig, got {type(self.ppo).__name__}")
        if self.n_envs * self.ppo.n_steps < 2:
            raise ValueError(
                f"GAILConfig.n_envs: n_envs * ppo.n_steps must be >= 2 (one rollout), "
                f"got {self.n_envs * self.ppo.n_steps}"
            )
        if self.train_opponent:
            from genplay.envs.board_bots import parse_bot_spec

            for spec in self.train_opponent.split("|"):
                try:
                    parse_bot_spec(spec)
                except ValueError as exc:
                    raise ValueError(f"GAILConfig.train_opponent: {exc}") from None
        if self.absorbing and self.disc_loss == "wasserstein":
            raise ValueError(
                "GAILConfig.disc_loss 'wasserstein' cannot train the absorbing state's free logit (its loss is "
                "linear in it, with no optimum); use absorbing=false or another loss"
            )
        if self.absorbing and not self.ppo.gamma < 1.0:
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
MAX_BATCH = 1 << 20
MAX_STEPS = 1 << 20
ACTIVATION = OneOf(tuple(ACTIVATIONS))
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
GAIL_RULES: dict[str, Rule] = {
    "n_envs": Int(1, MAX_ENVS),
    "seed": Int(0, 2**31 - 1),
    "reward_form": OneOf(("logit", "positive", "negative")),
    "reward_clip": NON_NEGATIVE,
    "obs_norm": OneOf(("demos", "none")),
    "absorbing_lr_scale": POSITIVE,
    "absorbing_prior": NON_NEGATIVE,
    "disc_hidden": Layers(),
    "disc_activation": ACTIVATION,
    "disc_cnn_features": Int(1, MAX_WIDTH),
    "disc_hide_top_rows": Int(0),
    "disc_loss": OneOf(("bce", "least_squares", "hinge", "wasserstein")),
    "disc_penalty": OneOf(("none", "r1", "wgan_gp")),
    "disc_penalty_weight": NON_NEGATIVE,
    "disc_lr": STEP_SIZE,
    "disc_batch_size": Int(1, MAX_BATCH),
    "disc_updates": Int(1, 100_000),
    "disc_replay_rollouts": Int(1, 1_000),
    "bc_epochs": Int(0, 100_000),
    "bc_patience": Int(1),
    "bc_batch_size": Int(1, MAX_BATCH),
    "bc_lr": STEP_SIZE,
    "bc_aux_steps": Int(0, 100_000),
    "bc_aux_weight": POSITIVE,
    "bc_reg_steps": Int(0, 100_000),
    "checkpoint_every": Int(0),
    "torch_threads": Int(1, 256),
    "device": Device(),
}


def replace(config: GAILConfig, **changes: Any) -> GAILConfig:
    """``dataclasses.replace`` that also accepts ``ppo_<field>`` keys for the nested PPO config."""
    ppo_changes = {k[4:]: v for k, v in changes.items() if k.startswith("ppo_")}
    rest = {k: v for k, v in changes.items() if not k.startswith("ppo_")}
    if ppo_changes:
        rest["ppo"] = dataclasses.replace(config.ppo, **ppo_changes)
    return dataclasses.replace(config, **rest)


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
    return GAILConfig(
        n_envs=8,
        ppo=ppo,
        disc_hidden=(256,),
        disc_activation="relu",
        disc_batch_size=128,
        disc_updates=1,
        disc_replay_rollouts=4,
        bc_epochs=0,
        checkpoint_every=100_000,
        disc_hide_top_rows=score_rows(game) if game else 0,
    )
