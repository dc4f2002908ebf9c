"""Settings of DAC's off-policy learner (:class:`DACLearnerConfig`: SB3's DQN for discrete actions, SAC for
continuous ones), DAC's ALE preset and its classic-control ones.

DAC is a reward model plus this learner: its reward model and run are a ``GAILConfig``'s ``reward`` and
``run`` sections (the fields :data:`genplay.gail.algos.dac.DAC_READS` names), so a DAC run's settings are
the pair ``(GAILConfig, DACLearnerConfig)``. Runs store the learner's half under ``"dqn"`` (its flags are
``--dqn-*``), as they did when the class was named ``DQNConfig``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from genplay.gail.algos.config import MAX_BATCH, GAILConfig, atari_game_of, atari_preset, replace
from genplay.gail.algos.presets import preset
from genplay.settings import (
    NON_NEGATIVE,
    OPEN_DISCOUNT,
    POSITIVE,
    STEP_SIZE,
    UNIT,
    ConfigError,
    Int,
    Layers,
    Real,
    Rule,
    check_fields,
)


@dataclass(frozen=True)
class DACLearnerConfig:
    """The off-policy learner of :class:`DAC` (SB3's names where SB3 has them; steps are agent steps).

    Discrete actions train SB3's DQN, continuous ones SB3's SAC (the DAC paper's setting); the
    ``exploration_*``, ``margin*``, ``max_grad_norm`` and ``target_update_interval`` fields are DQN's,
    ``tau`` and ``ent_coef`` SAC's, and DAC refuses a field set away from its default for the other
    learner (:data:`DQN_ONLY`, :data:`SAC_ONLY`). Its fields are the ``--dqn-*`` flags (the learner
    was DQN alone when they were named).
    The defaults are Atari-sized (the base of :func:`dac_atari_preset`); :func:`dac_preset` gives
    vector-observation envs :data:`CLASSIC_DQN` or :data:`CLASSIC_SAC` instead."""

    buffer_size: int = 100_000
    """Replay capacity in transitions (all envs together); frames stay uint8."""
    learning_starts: int = 10_000
    """Agent steps collected before the first Q update."""
    batch_size: int = 64
    """Learner rows per Q step."""
    expert_batch_size: int = 64
    """Expert rows per Q step (0: DAC's learner-only batches)."""
    learning_rate: float = 1e-4
    """Adam step size of the Q-network."""
    gamma: float = 0.99
    """Discount factor (also used for the absorbing-state value)."""
    train_freq: int = 1
    """Vector-env steps between Q updates."""
    gradient_steps: int = 1
    """Q steps per update."""
    target_update_interval: int = 8_000
    """Agent steps between copies of the Q-network to its target."""
    exploration_fraction: float = 0.05
    """Share of the run over which epsilon decays linearly."""
    exploration_initial_eps: float = 1.0
    """Epsilon at the start."""
    exploration_final_eps: float = 0.01
    """Epsilon after the decay."""
    max_grad_norm: float = 10.0
    """Gradient clipping of the Q update."""
    reward_scale: float = 1.0
    """Multiplies the discriminator's reward before the Q-learner sees it (DQN's Huber loss and margin
    expect rewards near +-1; scaling keeps the logit's gradations that a clip at 1 would flatten)."""
    margin_weight: float = 1.0
    """Weight of DQfD's large-margin loss on expert rows (0 = off)."""
    margin: float = 0.8
    """The margin: expert actions must beat every other action's value by this much."""
    disc_every: int = 1_000
    """Agent steps between discriminator updates (GAILConfig.disc_updates steps each)."""
    net_arch: tuple[int, ...] = ()
    """Hidden layers after the features extractor (none: NatureCNN's 512 features -> Q values; SAC:
    none means SB3's 256x256)."""
    tau: float = 0.005
    """SAC: Polyak coefficient of the critics' target update, every Q step (DQN copies its target whole)."""
    ent_coef: float = 1.0
    """SAC: initial entropy coefficient, tuned towards SB3's target entropy (-action dims)."""

    def __post_init__(self) -> None:
        check_fields(self, DAC_LEARNER_RULES)
        if self.batch_size + self.expert_batch_size < 1:
            raise ValueError("DACLearnerConfig.batch_size: batch_size + expert_batch_size must be >= 1")


MAX_BUFFER = 2_000_000
"""Replay rows at most: 2M Atari frames are ~14 GB even with SB3's memory-optimised buffer (24 GB machine)."""
DAC_LEARNER_RULES: dict[str, Rule] = {
    "buffer_size": Int(2, MAX_BUFFER),
    "learning_starts": Int(0),
    "batch_size": Int(0, MAX_BATCH),
    "expert_batch_size": Int(0, MAX_BATCH),
    "learning_rate": STEP_SIZE,
    "gamma": OPEN_DISCOUNT,  # < 1: DAC's absorbing states need a discount
    "train_freq": Int(1),
    "gradient_steps": Int(1, 10_000),
    "target_update_interval": Int(1),
    "exploration_fraction": UNIT,
    "exploration_initial_eps": UNIT,
    "exploration_final_eps": UNIT,
    "max_grad_norm": POSITIVE,
    "reward_scale": POSITIVE,
    "margin_weight": NON_NEGATIVE,
    "margin": NON_NEGATIVE,
    "disc_every": Int(1),
    "net_arch": Layers(),
    "tau": Real(0.0, 1.0, low_open=True),
    "ent_coef": POSITIVE,
}

DQN_ONLY = ("exploration_fraction", "exploration_initial_eps", "exploration_final_eps", "margin", "max_grad_norm")
DQN_ONLY += ("target_update_interval",)
""":class:`DACLearnerConfig` fields only the DQN learner reads (``margin_weight`` must be 0 for SAC)."""
SAC_ONLY = ("tau", "ent_coef")
""":class:`DACLearnerConfig` fields only the SAC learner reads."""


def dac_atari_preset(game: str | None = None) -> tuple[GAILConfig, DACLearnerConfig]:
    """DAC on ALE: the pixel-GAIL discriminator, its logit reward (clipped at +-10) scaled to +-1 as
    DQN's Atari rewards are, and DQN's Atari settings (Mnih et al. 2015; SB3 zoo) with half of each
    batch from the demos."""
    config = replace(atari_preset(game), disc_updates=4, disc_batch_size=128)
    dqn = DACLearnerConfig(
        buffer_size=75_000,  # 2.1 GB of uint8 stacks (each stored once: gail/learners/replay.py)
        learning_starts=10_000,
        batch_size=32,
        expert_batch_size=32,
        learning_rate=1e-4,
        train_freq=1,
        gradient_steps=1,
        target_update_interval=8_000,
        exploration_fraction=0.05,
        disc_every=1_000,
        reward_scale=0.1,
    )
    return config, dqn


CLASSIC_DQN = DACLearnerConfig(
    buffer_size=100_000,  # a whole 100k-200k run fits: nothing is forgotten on envs this small
    learning_starts=1_000,  # 10k (Atari's) is 10% of a CartPole budget spent before the first update
    batch_size=64,
    expert_batch_size=64,
    learning_rate=5e-4,  # with Atari's 1e-4 (and the rest) CartPole's Q stayed under 1 for 50k steps
    target_update_interval=1_000,  # Atari's 8k allows ~12 Bellman backups in 100k steps: values cannot propagate
    exploration_fraction=0.1,  # Atari's 0.05 of 100k ends before learning starts; 10k steps explore with a live Q
    disc_every=500,
    net_arch=(64, 64),  # the default () is a linear Q on the raw state (Atari's CNN has its own features)
)
"""DAC's Q-learner on vector-observation envs (classic control): small nets and short horizons.

The :class:`DACLearnerConfig` defaults are Atari-sized, and on CartPole-v1 they left DAC at 122 after 100k
steps (0.21 normalised, seed 0): a linear Q (no hidden layer), 10k steps before the first update, a
target copy every 8k steps and a 1e-4 step size kept the Q-values near 0 while the discriminator's
reward was +2.5 on expert rows and -12 on the learner's. These settings are SB3 zoo's classic-control
DQN scale (and what DAC's own learning test used)."""

MOUNTAIN_CAR_DQN = dataclasses.replace(CLASSIC_DQN, reward_scale=0.1)
"""MountainCar-v0: :data:`CLASSIC_DQN` with the discriminator's reward scaled by 0.1. At scale 1 the
Q-values reach hundreds (a dense logit reward over ~120-step episodes plus the goal's absorbing tail), so
the Huber TD loss sits in its linear region and DQfD's 0.8 margin is small beside them; seeds 0 and 2
left some starts timing out (0.82 / 0.84 normalised at 200k steps, BC alone 1.00). Scaled, on the shared
learner: bench_family.py, 20 demos, 100k steps, seeds 0-2: 0.96 / 0.96 / 0.96 (returns' std 16)."""

CLASSIC_SAC = DACLearnerConfig(
    buffer_size=100_000,
    learning_starts=1_000,
    batch_size=128,
    expert_batch_size=128,
    learning_rate=1e-3,  # SB3 zoo's SAC on Pendulum-v1
    gradient_steps=2,  # per collection step of the preset's 4 envs: one update per 2 env steps
    disc_every=500,
    net_arch=(64, 64),  # SB3's 256x256 is ~16x the arithmetic per update (SQIL's Pendulum preset says the same)
    margin_weight=0.0,  # DQfD's margin is a discrete-action loss
)
"""DAC's SAC learner on continuous-action classic control (Pendulum-v1): the DAC paper's setting, an
actor-critic on the discriminator's reward relabelled at sample time, with expert rows in the critic's batch.
bench_family.py, 20 demos, 20k steps, seeds 0-2: 1.03 / 1.02 / 1.02 normalised (GAIL needs ~300k)."""

CLASSIC_ENVS: dict[str, DACLearnerConfig] = {
    "Pendulum-v1": CLASSIC_SAC,
    "CartPole-v1": CLASSIC_DQN,  # the expert never terminates: the absorbing reward learns to punish falls
    "Acrobot-v1": CLASSIC_DQN,  # the expert terminates (swing-up): the absorbing reward pays reaching the goal
    "MountainCar-v0": MOUNTAIN_CAR_DQN,  # as Acrobot (the goal pays), with the reward scaled
}
"""The classic-control envs :func:`dac_preset` names (bench_family.py, 20 demos, seeds 0-2): Pendulum
1.03/1.02/1.02 at 20k steps (SAC), MountainCar 0.96/0.96/0.96 at 100k, CartPole 500/500/500 at 100k,
Acrobot 1.00/0.99/0.98 at 200k (bench_results/family/dac_*_s4.jsonl). An env that
needs its own settings gets them here; other vector-observation envs get :data:`CLASSIC_DQN` (:data:`CLASSIC_SAC`
for Box actions)."""


def check_learner_fields(dqn: DACLearnerConfig, discrete: bool) -> None:
    """Refuse a :class:`DACLearnerConfig` field that the chosen learner would ignore (set away from its default)."""
    default = DACLearnerConfig()
    for name in SAC_ONLY if discrete else DQN_ONLY:
        if getattr(dqn, name) != getattr(default, name):
            learner, other = ("DQN", "continuous") if discrete else ("SAC", "discrete")
            raise ConfigError(
                f"DACLearnerConfig.{name}: DAC's {learner} learner does not use this setting (it is for {other} "
                f"actions; default {getattr(default, name)!r})"
            )
    if not discrete and dqn.margin_weight > 0:
        raise ConfigError("DACLearnerConfig.margin_weight: DQfD's margin needs discrete actions; must be 0 with SAC")


def continuous_actions(env_id: str) -> bool:
    """Whether ``env_id`` has Box actions (DAC's SAC learner) rather than Discrete ones (its DQN)."""
    from gymnasium import spaces

    from genplay.envs import EnvFactory

    if env_id in CLASSIC_ENVS:
        return CLASSIC_ENVS[env_id] is CLASSIC_SAC
    env = EnvFactory(env_id).make()
    try:
        return isinstance(env.action_space, spaces.Box)
    finally:
        env.close()


def dac_preset(env_id: str) -> tuple[GAILConfig, DACLearnerConfig]:
    """DAC's settings for ``env_id``: :func:`dac_atari_preset` for genplay's ALE ids, else GAIL's
    preset for the discriminator and :data:`CLASSIC_ENVS`' learner (else :data:`CLASSIC_DQN`, or
    :data:`CLASSIC_SAC` for continuous actions)."""
    game = atari_game_of(env_id)
    if game is not None:
        return dac_atari_preset(game)
    if env_id in CLASSIC_ENVS:
        return preset(env_id), CLASSIC_ENVS[env_id]
    return preset(env_id), CLASSIC_SAC if continuous_actions(env_id) else CLASSIC_DQN


def dac_run_meta(factory: Any, config: Any, dqn: DACLearnerConfig) -> dict[str, Any]:
    """``config.json`` of a DAC run: the env, the discriminator's settings and the Q-learner's."""
    meta = {"algo": "dac", "env_id": factory.env_id, "env": factory.to_dict(), **dataclasses.asdict(config)}
    meta["dqn"] = dataclasses.asdict(dqn)
    return meta


def dac_preset_config(env_id: str) -> GAILConfig:
    """The discriminator half of :func:`dac_preset` (the registry's preset; ``train_dac`` fills the DQN half)."""
    return dac_preset(env_id)[0]
