"""The imitation algorithms by name: what ``genplay train --algo NAME`` and ``bench_family.py`` run.

Each algorithm module registers one :class:`AlgoSpec` here, so the command line, the
benchmark and the tests find every algorithm the same way and a new one needs no edit
anywhere else. The registry imports the algorithm modules lazily (by module path), so
importing it costs nothing and it sits below every algorithm in the import graph.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol

from gymnasium import spaces


class TrainFn(Protocol):
    """The one training entry every algorithm exposes (``gail.runs.pipeline.train_gail``'s shape).

    ``demos`` is None only for algorithms with ``needs_demos=False``. With ``out_dir`` the run
    directory contract holds: lock, ``config.json``, atomic ``checkpoint.pt``, ``--resume``
    (refused without a checkpoint), ``--force``, ``policy.zip`` that SB3 loads alone, the
    learning curve and ``logs/``. Returns the trained trainer (``predict``, ``save``, ``history``).
    """

    def __call__(
        self,
        env: Any,
        demos: Any,
        total_timesteps: int,
        *,
        config: Any = None,
        out_dir: Any = None,
        resume: bool = False,
        force: bool = False,
        progress_bar: bool = False,
    ) -> Any: ...


@dataclass(frozen=True)
class AlgoSpec:
    """Where an algorithm lives and what it accepts.

    ``train`` and ``config`` are ``"module:attribute"`` paths: the :class:`TrainFn`, and the frozen
    config dataclass whose documented fields become the command's flags. ``actions`` lists the action
    space kinds it supports ("discrete", "continuous"); ``masks`` says whether it respects action
    masks (board games); ``needs_demos`` is False where an expert is queried instead.
    """

    name: str
    train: str
    config: str
    paper: str
    actions: tuple[str, ...] = ("discrete", "continuous")
    masks: bool = False
    needs_demos: bool = True
    takes_steps: bool = True
    """False where training takes no env steps (BC): ``--timesteps`` may then be left out."""
    preset: str | None = None
    """``"module:function"``: the env's tuned config (``function(env_id)``); None: the config's defaults."""

    def load(self) -> tuple[TrainFn, type]:
        """The training function and the config class (imports the module)."""
        return _attribute(self.train), _attribute(self.config)

    def default_config(self, env_id: str) -> Any:
        """The config an algorithm starts from on ``env_id``: its preset, or the dataclass's defaults."""
        return _attribute(self.preset)(env_id) if self.preset else _attribute(self.config)()

    def supports(self, action_space: spaces.Space, masked: bool = False) -> str | None:
        """None when the algorithm can train on this action space; else why not, in words."""
        if not isinstance(action_space, (spaces.Box, spaces.Discrete)):
            return f"{self.name} supports Discrete and Box action spaces, got {type(action_space).__name__}"
        kind = "discrete" if isinstance(action_space, spaces.Discrete) else "continuous"
        if kind not in self.actions:
            return f"{self.name} needs {' or '.join(self.actions)} actions, this env's are {kind}"
        if masked and not self.masks:
            return f"{self.name} cannot respect this env's action masks"
        return None


def _attribute(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


ALGORITHMS: dict[str, AlgoSpec] = {}


def register(spec: AlgoSpec) -> AlgoSpec:
    """Add ``spec`` (its name must be new)."""
    if spec.name in ALGORITHMS:
        raise ValueError(f"algorithm {spec.name!r} is registered twice")
    ALGORITHMS[spec.name] = spec
    return spec


def algorithm(name: str) -> AlgoSpec:
    """The spec of ``name``; a ``KeyError`` naming the known ones otherwise."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise KeyError(f"unknown algorithm {name!r}; known: {', '.join(sorted(ALGORITHMS))}") from None


register(
    AlgoSpec(
        "gail",
        train="genplay.gail.runs.pipeline:train_gail",
        config="genplay.gail.algos.config:GAILConfig",
        paper="Ho & Ermon 2016, Generative Adversarial Imitation Learning",
        masks=True,
        preset="genplay.gail.algos.presets:preset",
    )
)
register(
    AlgoSpec(
        "dac",
        train="genplay.gail.runs.off_policy_run:train_dac",
        config="genplay.gail.algos.config:GAILConfig",
        paper="Kostrikov et al. 2019, Discriminator-Actor-Critic (a DQN learner for discrete actions, SAC for Box)",
        preset="genplay.gail.algos.dac_config:dac_preset_config",
    )
)
register(
    AlgoSpec(
        "bc",
        train="genplay.gail.runs.bc_run:train_bc",
        config="genplay.gail.algos.config:GAILConfig",
        paper="behaviour cloning (Pomerleau 1991), early-stopped on held-out demo episodes",
        masks=True,
        takes_steps=False,
        preset="genplay.gail.algos.presets:preset",
    )
)
register(
    AlgoSpec(
        "airl",
        train="genplay.gail.algos.airl:train_airl",
        config="genplay.gail.algos.airl:AIRLConfig",
        paper="Fu, Luo & Levine 2018, Learning Robust Rewards with Adversarial Inverse Reinforcement Learning",
        masks=True,
        preset="genplay.gail.algos.airl:airl_preset",
    )
)
register(
    AlgoSpec(
        "sqil",
        train="genplay.gail.algos.sqil:train_sqil",
        config="genplay.gail.algos.sqil:SQILConfig",
        preset="genplay.gail.algos.off_policy_presets:sqil_preset",
        paper="Reddy, Dragan & Levine 2019, SQIL: Imitation Learning via Reinforcement Learning with Sparse Rewards",
    )
)
register(
    AlgoSpec(
        "iq",
        train="genplay.gail.algos.iq_learn:train_iq",
        config="genplay.gail.algos.iq_learn:IQLearnConfig",
        preset="genplay.gail.algos.off_policy_presets:iq_preset",
        paper="Garg et al. 2021, IQ-Learn: Inverse soft-Q Learning for Imitation",
    )
)
register(
    AlgoSpec(
        "dagger",
        train="genplay.gail.runs.dagger_run:train_dagger",
        config="genplay.gail.algos.dagger_config:DAggerConfig",
        paper="Ross, Gordon & Bagnell 2011, A Reduction of Imitation Learning and Structured Prediction to "
        "No-Regret Online Learning",
        masks=True,
        needs_demos=False,
        preset="genplay.gail.algos.dagger_config:dagger_preset",
    )
)
