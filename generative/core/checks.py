"""Checks every trainer shares: finite losses and weights, and (re-exported from ``genplay.settings``)
bounded settings and devices.

``check_finite`` is called on every loss of every update (images, music, text): the first NaN
or inf stops the run with one line naming the step and the loss, before the bad weights reach
a checkpoint. ``check_finite_tree`` is the loaders' side: a state file whose tensors hold NaN
or inf is refused. Settings are validated by ``genplay.settings`` (one dialect for every config).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from genplay.errors import CheckpointError, GenplayError
from genplay.settings import (  # noqa: F401  (re-exported: the core's configs and callers import them here)
    DECAY,
    DISCOUNT,
    MACHINE,
    MAX_LAYERS,
    MAX_WIDTH,
    NON_NEGATIVE,
    OPEN_DISCOUNT,
    POSITIVE,
    STEP_SIZE,
    UNIT,
    ConfigError,
    Device,
    Int,
    Layers,
    OneOf,
    Real,
    Rule,
    check_device,
    check_fields,
    check_float,
    check_int,
    device_problem,
    field_label,
    flag_label,
)


class NonFiniteError(GenplayError):
    """A loss became NaN or inf: the run stops and its last good checkpoint stays as it was."""


def check_finite(step: int | str, losses: Mapping[str, Any]) -> None:
    """Stop with one ``NonFiniteError`` naming ``step`` (an update count, or a phrase such as "MLE epoch 3")
    and the first loss in ``losses`` that is NaN or inf."""
    for name, value in losses.items():
        v = float(value.detach().float().sum()) if isinstance(value, torch.Tensor) else float(value)
        if not math.isfinite(v):
            where = f"step {step}" if isinstance(step, int) else step
            raise NonFiniteError(
                f"{where}: {name} is {v}; the run stopped before saving it (the last good checkpoint is kept)"
            )


def _leaves(tree: Any, where: str):
    if isinstance(tree, torch.Tensor):
        yield where, tree
    elif isinstance(tree, Mapping):
        for k, v in tree.items():
            yield from _leaves(v, f"{where}.{k}" if where else str(k))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from _leaves(v, f"{where}[{i}]")
    elif isinstance(tree, float) and not math.isfinite(tree):
        yield where, torch.tensor(tree)


def check_finite_tree(tree: Any, name: str) -> None:
    """Refuse (``CheckpointError`` naming file ``name`` and the tensor) any NaN or inf in a loaded state."""
    for where, t in _leaves(tree, ""):
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{name}: {where} holds NaN or inf values; refusing to use it")


def check_finite_modules(step: int, modules: Mapping[str, torch.nn.Module]) -> None:
    """Stop (``NonFiniteError`` naming ``step`` and the network) if any weight is NaN or inf: run before a save."""
    for name, module in modules.items():
        for p in module.state_dict().values():
            if p.is_floating_point() and not bool(torch.isfinite(p).all()):
                raise NonFiniteError(
                    f"step {step}: the {name}'s weights hold NaN or inf; the run stopped before saving them "
                    "(the last good checkpoint is kept)"
                )
