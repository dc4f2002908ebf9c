"""Checks every trainer shares: bounded flag values, devices, and finite losses and weights.

Bounds are sized to the machine genplay targets (2 CPU cores, 24 GB of memory): a value past
one is refused where it enters, with the limit named, rather than allocating for minutes and
dying. ``check_finite`` is called on every loss of every update (images, music, text): the
first NaN or inf stops the run with one line naming the step and the loss, before the bad
weights reach a checkpoint. ``check_finite_tree`` is the loaders' side: a state file whose
tensors hold NaN or inf is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from genplay.errors import CheckpointError, GenplayError

MACHINE = "the limit for a 2-core, 24 GB machine"


class NonFiniteError(GenplayError):
    """A loss became NaN or inf: the run stops and its last good checkpoint stays as it was."""


def check_int(flag: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``, else one ``GenplayError`` naming ``flag`` (and the limit)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise GenplayError(f"{flag}: expected an integer, got {value!r}")
    if value < low:
        raise GenplayError(f"{flag}: expected an integer >= {low}, got {value}")
    if high is not None and value > high:
        raise GenplayError(f"{flag}: expected an integer <= {high} ({MACHINE}), got {value}")
    return value


def check_float(
    flag: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float within the bounds (``*_open``: the bound itself is excluded)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise GenplayError(f"{flag}: expected a number, got {value!r}") from None
    lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
    hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
    span = f"in {lo or '(-inf'}, {hi or 'inf)'}"
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or bad_low or bad_high:
        raise GenplayError(f"{flag}: expected a finite number {span}, got {value!r}")
    return value


def check_device(device: str, flag: str = "--device") -> None:
    """One error for anything but auto, cpu or cuda[:i] with that GPU present."""
    if device in ("auto", "cpu"):
        return
    ok = device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())
    if not (
        ok and torch.cuda.is_available() and torch.device(device).index in (None, *range(torch.cuda.device_count()))
    ):
        raise GenplayError(f"{flag}: expected auto, cpu or cuda (with that GPU present), got {device!r}")


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
