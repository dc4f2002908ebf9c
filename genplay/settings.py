"""Validation of settings, one way for every config and flag: bounded values, devices, field rules.

A frozen dataclass declares one rule per field (:class:`Int`, :class:`Real`, :class:`OneOf`,
:class:`Layers`, :class:`Device`) and calls :func:`check_fields` from ``__post_init__``; fields
without a rule get a type check from their annotation. The error is one line naming the field
as ``Class.field`` (the CLIs turn that into ``--flag``) or as the label a config chooses, what
was expected, and what it got. Bounds are sized to the machine genplay targets (2 CPU cores,
24 GB): a value past one is refused where it enters, with the limit named, rather than
allocating for minutes and dying.

It sits beside ``errors`` at the bottom of the package: ``envs``, ``generative`` and ``gail``
all validate through it, and it imports none of them (torch only where a device is checked).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from genplay.errors import GenplayError

MACHINE = "the limit for a 2-core, 24 GB machine"


class ConfigError(GenplayError, ValueError):
    """A setting is out of range or of the wrong kind (a ``ValueError`` too, for callers that catch those)."""


def check_int(flag: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``, else one ``GenplayError`` naming ``flag`` (and the limit)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ConfigError(f"{flag}: expected an integer, got {value!r}")
    if value < low:
        raise ConfigError(f"{flag}: expected an integer >= {low}, got {value}")
    if high is not None and value > high:
        raise ConfigError(f"{flag}: expected an integer <= {high} ({MACHINE}), got {value}")
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
    if isinstance(value, bool):
        raise ConfigError(f"{flag}: expected a number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{flag}: expected a number, got {value!r}") from None
    lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
    hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
    span = f"in {lo or '(-inf'}, {hi or 'inf)'}"
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or bad_low or bad_high:
        raise ConfigError(f"{flag}: expected a finite number {span}, got {value!r}")
    return value


def device_problem(device: Any) -> str | None:
    """Why ``device`` is not a torch device usable here (auto, cpu, cuda[:i] with that GPU, mps where
    present), or None."""
    import torch

    expected = "expected auto, cpu, cuda, cuda:N or mps"
    if not isinstance(device, str):
        return expected
    if device in ("auto", "cpu"):
        return None
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        return expected
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            return "CUDA is not available on this machine (use auto or cpu)"
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            return f"there are {torch.cuda.device_count()} CUDA devices here"
        return None
    if dev.type == "mps":
        return None if torch.backends.mps.is_available() else "MPS is not available on this machine (use auto or cpu)"
    return expected


def check_device(device: Any, flag: str = "--device") -> None:
    """One ``ConfigError`` naming ``flag`` for anything :func:`device_problem` refuses."""
    if problem := device_problem(device):
        raise ConfigError(f"{flag}: {problem}, got {device!r}")


# ---------------------------------------------------------------------------- declarative field rules

MAX_WIDTH = 8192
"""Widest hidden layer a config may ask for."""
MAX_LAYERS = 16
"""Most hidden layers a config may ask for."""


@dataclass(frozen=True)
class Int:
    """An integer in ``[low, high]`` (``high`` None: unbounded; a bound past it names the machine's limit)."""

    low: int
    high: int | None = None

    def check(self, label: str, value: Any) -> None:
        check_int(label, value, self.low, self.high)


@dataclass(frozen=True)
class Real:
    """A finite number within the bounds (``*_open``: the bound itself excluded)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def check(self, label: str, value: Any) -> None:
        check_float(label, value, self.low, self.high, low_open=self.low_open, high_open=self.high_open)


STEP_SIZE = Real(0.0, 1.0, low_open=True)
"""A learning rate: above 1 sends Adam to inf within a few updates."""
POSITIVE = Real(0.0, low_open=True)
NON_NEGATIVE = Real(0.0)
UNIT = Real(0.0, 1.0)
"""A share or probability, [0, 1]."""
DISCOUNT = Real(0.0, 1.0, low_open=True)
"""A discount in (0, 1]."""
OPEN_DISCOUNT = Real(0.0, 1.0, low_open=True, high_open=True)
"""A discount in (0, 1): absorbing states and soft values need gamma < 1."""
DECAY = Real(0.0, 1.0, high_open=True)
"""An average's decay or an Adam beta, [0, 1)."""


@dataclass(frozen=True)
class OneOf:
    """One of ``choices`` (names: the help text lists them in this order)."""

    choices: tuple[Any, ...]

    def check(self, label: str, value: Any) -> None:
        if isinstance(value, bool) or value not in self.choices:
            raise ConfigError(f"{label}: expected one of {', '.join(map(str, self.choices))}, got {value!r}")


@dataclass(frozen=True)
class Layers:
    """Hidden-layer widths: a tuple of at most ``MAX_LAYERS`` integers in [1, ``MAX_WIDTH``] (``empty``: () allowed)."""

    empty: bool = True

    def check(self, label: str, value: Any) -> None:
        ok = isinstance(value, tuple) and all(_is_int(w) and 1 <= w <= MAX_WIDTH for w in value)
        if not ok or len(value) > MAX_LAYERS or (not self.empty and not value):
            least = "at most " if self.empty else "one to "
            raise ConfigError(
                f"{label}: expected {least}{MAX_LAYERS} layer widths, each an integer in [1, {MAX_WIDTH}] "
                f"({MACHINE}), got {value!r}"
            )


@dataclass(frozen=True)
class Device:
    """A torch device this machine has: auto, cpu, cuda[:i], mps."""

    def check(self, label: str, value: Any) -> None:
        check_device(value, label)


Rule = Int | Real | OneOf | Layers | Device


def field_label(config: Any, name: str) -> str:
    """``Class.field``: how a library config names a setting (the CLIs rewrite it as ``--field``)."""
    return f"{type(config).__name__}.{name}"


def flag_label(config: Any, name: str) -> str:
    """``--field-name``: for configs that are a command's flags one to one."""
    return "--" + name.replace("_", "-")


def flag_names(text: str, prefixes: Mapping[str, str]) -> str:
    """``text`` with each ``Class.field`` written as the flag ``--<prefix>field-name`` (``prefixes``: class
    name -> its flags' prefix, "" for a command's own config): how a CLI shows a config's error."""
    import re

    def flag(m: re.Match) -> str:
        return "--" + prefixes[m.group(1)] + m.group(2).replace("_", "-")

    pattern = r"\b(" + "|".join(map(re.escape, prefixes)) + r")\.(\w+)"
    return re.sub(pattern, flag, " ".join(text.split()))


def check_fields(config: Any, rules: Mapping[str, Rule], label: Callable[[Any, str], str] = field_label) -> None:
    """Check every field of dataclass ``config``: by its rule, else by its annotation (bool, int, float,
    str); the first bad one raises one ``ConfigError`` naming it (``label``), the expectation and the value."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        rule = rules.get(f.name)
        if rule is not None:
            rule.check(label(config, f.name), value)
        elif FLAG_PREFIX in f.metadata:
            cls = sections(type(config))[f.name][1]
            if not isinstance(value, cls):
                raise ConfigError(f"{label(config, f.name)}: expected a {cls.__name__}, got {type(value).__name__}")
        elif expected := _type_problem(f.type if isinstance(f.type, str) else getattr(f.type, "__name__", ""), value):
            raise ConfigError(f"{label(config, f.name)}: expected {expected}, got {value!r}")
    unknown = set(rules) - {f.name for f in dataclasses.fields(config)}
    if unknown:  # a rule for a renamed field would silently check nothing
        raise TypeError(f"{type(config).__name__}: rules for unknown fields {sorted(unknown)}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _type_problem(hint: str, v: Any) -> str | None:
    if hint == "bool" and not isinstance(v, bool):
        return "true or false"
    if hint == "int" and not _is_int(v):
        return "an integer"
    if hint == "float" and not (_is_int(v) or (isinstance(v, float) and math.isfinite(v))):
        return "a finite number"
    if hint == "str" and not isinstance(v, str):
        return "a string"
    return None


# ---------------------------------------------------------------------------- configs made of sections

FLAG_PREFIX = "flag_prefix"
"""Metadata key of a :func:`section` field: the prefix of its fields' flags and flat names."""


def section(cls: type, flag_prefix: str) -> Any:
    """A config field holding a whole sub-config ``cls`` (its defaults), whose fields are the command line's
    ``--<flag_prefix><field>`` flags (``""``: under their own names, as if they were the parent's)."""
    return dataclasses.field(default_factory=cls, metadata={FLAG_PREFIX: flag_prefix})


@functools.cache
def sections(cls: type) -> dict[str, tuple[str, type]]:
    """The dataclass-typed fields of config class ``cls``: name -> (flag prefix, class). A field made
    without :func:`section` gets the prefix ``<name>_``."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: (f.metadata.get(FLAG_PREFIX, f.name + "_"), hints[f.name])
        for f in dataclasses.fields(cls)
        if dataclasses.is_dataclass(hints[f.name])
    }


@functools.cache
def flat_names(cls: type) -> dict[str, tuple[str | None, str]]:
    """Every setting of config class ``cls`` by its flat name (its flag without ``--``, in underscores):
    name -> (section, field), section None for ``cls``'s own fields. Two settings with one name are a bug."""
    out: dict[str, tuple[str | None, str]] = {}
    parts = sections(cls)
    for f in dataclasses.fields(cls):
        prefix, sub = parts.get(f.name, ("", None))
        names = [(prefix + g.name, (f.name, g.name)) for g in dataclasses.fields(sub)] if sub else []
        for key, where in names or [(f.name, (None, f.name))]:
            if key in out:
                raise TypeError(f"{cls.__name__}: two settings are named {key!r}")
            out[key] = where
    return out


def replace_flat(config: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` taking settings by flat name (``disc_lr``, ``bc_epochs``, ``ppo_gamma``) as
    well as whole sections; each section changed is rebuilt once, then the config once (one validation)."""
    routes = flat_names(type(config))
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        part, name = routes.get(key, (None, key))
        if part is None:
            direct[key] = value
        else:
            nested.setdefault(part, {})[name] = value
    for part, part_changes in nested.items():
        direct[part] = dataclasses.replace(direct.get(part, getattr(config, part)), **part_changes)
    return dataclasses.replace(config, **direct)


def flat_settings(config: Any) -> dict[str, Any]:
    """Every setting of ``config`` by flat name (see :func:`flat_names`)."""
    return {
        key: getattr(getattr(config, part) if part else config, name)
        for key, (part, name) in flat_names(type(config)).items()
    }


def settings_from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    """A ``cls`` from a stored dict in either layout: nested (``dataclasses.asdict``) or flat (settings by
    flat name, the layout of files written before a config was split into sections), or a mix; JSON lists
    become tuples. Unknown names raise ``TypeError``, bad values the config's own ``ConfigError``."""
    parts = sections(cls)
    routes = flat_names(cls)
    own: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {name: {} for name in parts}
    for key, value in data.items():
        if key in parts and isinstance(value, Mapping):
            nested[key].update({k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})
            continue
        value = tuple(value) if isinstance(value, list) else value
        part, name = routes.get(key, (None, key))
        if part is None:
            own[key] = value
        else:
            nested[part][name] = value
    return cls(**own, **{name: sub(**nested[name]) for name, (_, sub) in parts.items()})


def section_prefixes(cls: type) -> dict[str, str]:
    """Class name -> flag prefix in hyphens for ``cls`` and its sections (for :func:`flag_names`)."""
    out = {cls.__name__: ""}
    for _, (prefix, sub) in sections(cls).items():
        out[sub.__name__] = prefix.replace("_", "-")
    return out
