"""Flag parsing shared by every ``genplay`` command: dataclass fields as flags (their docstrings as
help), typed flag values, and the checks that turn bad input into one ``error:`` line naming the flag."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import math
import textwrap
import typing
from pathlib import Path

from genplay.errors import GenplayError


@functools.cache  # parsing the class's source is most of building the parser: once per class
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (they are the ``--help`` texts), a subclass's
    (``AIRLConfig(GAILConfig)``) over its bases'."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not dataclasses.is_dataclass(klass):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, nxt in zip(body, body[1:]):
            if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
                docs[node.target.id] = str(nxt.value.value)  # type: ignore[union-attr]
    return docs


class UsageError(GenplayError):
    """A command-line syntax problem (argparse's own errors: wrong type, missing flag, unknown choice)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``error:`` line (exit 2), not usage text plus a message."""

    def error(self, message: str) -> typing.NoReturn:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def int_at_least(low: int, high: int | None = None):
    """An argparse type: an integer in ``[low, high]``, else a one-line usage error naming the flag."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f">= {low}" + (f" and <= {high}" if high is not None else "")
            raise argparse.ArgumentTypeError(f"must be an integer {bound}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def float_in(low: float, high: float | None = None):
    """An argparse type: a finite number in ``[low, high)``, else a one-line usage error naming the flag."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(value) or value < low or (high is not None and value >= high):
            bound = f">= {low}" + (f" and < {high}" if high is not None else "")
            raise argparse.ArgumentTypeError(f"must be a finite number {bound}, got {text!r}")
        return value

    parse.__name__ = "float"
    return parse


positive_int = int_at_least(1, 10**13)  # no count past what a checkpoint may store (sb3_io.MAX_COUNT)
MAX_EPISODES = 1_000_000
"""Episodes one command rolls out at most: a million CartPole episodes take hours on 2 cores."""
episode_count = int_at_least(1, MAX_EPISODES)
seed_int = int_at_least(0, 2**31 - 1)


def nonempty_str(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    if "\x00" in text:  # no file system takes it; os calls would raise ValueError deep inside a command
        raise argparse.ArgumentTypeError("must not contain a NUL character")
    return text


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's defaults in ``--help``, minus the misleading ``(default: None)``: a flag whose
    default is None states its effective default (or the preset that decides it) in its own help."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or "(default" in text or "preset:" in text:
            return text
        return super()._get_help_string(action)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value)) or "(none)"
    return str(value)


class _PresetNote:
    """The gail presets that set a field, worked out only when ``--help`` prints it (no cost otherwise)."""

    def __init__(self, cls_name: str, field: str) -> None:
        self.key = (cls_name, field)

    def __str__(self) -> str:
        notes = _gail_preset_notes()
        return f"; preset: {notes[self.key]}" if self.key in notes else ""


_NOTES: dict[tuple[str, str], str] | None = None


def _gail_preset_notes() -> dict[tuple[str, str], str]:
    """``(class, field) -> "Pendulum 0.001, board games 0.0001"`` for every field a gail preset changes."""
    global _NOTES
    if _NOTES is not None:
        return _NOTES
    notes: dict[tuple[str, str], dict[str, list[str]]] = {}
    try:
        from genplay.gail.algos.config import GAILConfig, atari_preset
        from genplay.gail.algos.dac_config import DACLearnerConfig, dac_atari_preset
        from genplay.gail.algos.presets import preset
        from genplay.gail.suites.boardgame_presets import PRESETS, board_config
        from genplay.settings import sections

        families = {
            "Pendulum": [preset("Pendulum-v1")],
            "Atari": [atari_preset(None)],
            "board games": [board_config(p) for p in PRESETS.values()],
        }
        base = GAILConfig()
        for family, configs in families.items():
            for cfg in configs:
                pairs = [("GAILConfig", base, cfg)]
                for name, (_, part) in sections(GAILConfig).items():
                    pairs.append((part.__name__, getattr(base, name), getattr(cfg, name)))
                if family == "Atari":
                    pairs.append(("DACLearnerConfig", DACLearnerConfig(), dac_atari_preset(None)[1]))
                for cls_name, default, got in pairs:
                    for f in dataclasses.fields(default):
                        a, b = getattr(default, f.name), getattr(got, f.name)
                        if not dataclasses.is_dataclass(a) and a != b:
                            values = notes.setdefault((cls_name, f.name), {}).setdefault(family, [])
                            if _shown(b) not in values:
                                values.append(_shown(b))
    except Exception:  # help must print even while a preset module is broken
        notes = {}
    _NOTES = {k: ", ".join(f"{fam} {'/'.join(v)}" for fam, v in fams.items()) for k, fams in notes.items()}
    return _NOTES


GAIL_CLASSES = ("GAILConfig", "RunConfig", "RewardModelConfig", "BCConfig", "PPOConfig", "DACLearnerConfig")
"""Config classes of ``gail train`` whose flags' help names the env presets that change them."""


def add_config_args(parser: argparse.ArgumentParser, cls: type) -> None:
    """The flags of config class ``cls``: its own fields and each section's (``genplay.settings.section``),
    under the section's flag prefix (``--disc-lr`` from ``config.reward``, ``--ppo-gamma`` from ``config.ppo``)."""
    from genplay.settings import sections

    add_dataclass_args(parser, cls)
    for _, (prefix, sub) in sections(cls).items():
        add_dataclass_args(parser, sub, prefix=prefix)


def add_dataclass_args(
    parser: argparse.ArgumentParser, cls: type, prefix: str = "", presets: dict[str, str] | None = None
) -> None:
    """One ``--flag`` per field (default None = keep the preset's or the dataclass's value).

    The help shows the effective default: the field's own, or ``presets[field]`` (a text such as
    ``"dcgan 0.001, wgan-gp 0.0001"``) where a preset decides; gail's config classes name the env
    presets that change a field. The parser gets a formatter that never prints ``(default: None)``.
    """
    parser.formatter_class = DefaultsHelpFormatter
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    gail_class = cls.__name__ in GAIL_CLASSES
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            continue
        flag = "--" + (prefix + f.name).replace("_", "-")
        value = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        doc = docs.get(f.name, "").replace("%", "%%")
        if presets and f.name in presets:
            shown = f"preset: {presets[f.name]}"
        else:
            shown = f"default: {_shown(value)}".replace("%", "%%") + ("%(preset_note)s" if gail_class else "")
        kwargs: dict = {"dest": prefix + f.name, "default": None, "help": f"{doc} ({shown})"}
        if hint is bool:
            kwargs.update(type=_parse_bool, metavar="BOOL")
        elif typing.get_origin(hint) is tuple:
            kwargs.update(type=int, nargs="+", metavar="N")
        elif hint in (int, float):
            kwargs["type"] = hint
        elif hint is str:
            kwargs["type"] = nonempty_str
        action = parser.add_argument(flag, **kwargs)
        if gail_class:
            action.preset_note = _PresetNote(cls.__name__, f.name)  # type: ignore[attr-defined]


def flag_error(exc: Exception) -> GenplayError:
    """A config ``ValueError`` ("RewardModelConfig.disc_lr: ...") as a one-line error naming the flag ("--disc-lr:
    ..."): each section's fields under its flag prefix (``--ppo-``, ``--bc-``), ``DACLearnerConfig``'s as ``--dqn-``."""
    from genplay.gail.algos.config import GAILConfig
    from genplay.settings import flag_names, section_prefixes

    return GenplayError(flag_names(str(exc), {**section_prefixes(GAILConfig), "DACLearnerConfig": "dqn-"}))


def check_out_dir(path: str) -> None:
    from genplay.generative.core.rundir import check_dir_writable

    try:
        check_dir_writable(path)
    except GenplayError as exc:
        raise GenplayError(f"--out: {exc}") from None


def check_out_file(path: str) -> None:
    from genplay.generative.core.rundir import check_file_writable

    try:
        check_file_writable(path)
    except GenplayError as exc:
        raise GenplayError(f"--out: {exc}") from None


def check_output_file(path: str, flag: str, *, force: bool) -> None:
    """An output file this command owns: not a device, pipe or directory, and not overwritten without ``--force``."""
    from genplay.generative.core.rundir import check_file_writable

    p = Path(path)
    if p.exists() and not p.is_file():
        raise GenplayError(f"{flag}: {path}: exists and is not a regular file; refusing to replace it")
    if p.exists() and not force:
        raise GenplayError(f"{flag}: {path}: already exists; pass --force to overwrite it")
    try:
        check_file_writable(path)
    except GenplayError as exc:
        raise GenplayError(f"{flag}: {exc}") from None


def check_env(env_id: str) -> None:
    from genplay.envs import check_env_id

    try:
        check_env_id(env_id)
    except GenplayError as exc:
        raise GenplayError(f"--env: {exc}") from None


def check_policy_arg(policy: str) -> None:
    if policy not in ("expert", "random") and not Path(policy).exists():
        raise GenplayError(
            f"--policy: {policy}: no trained policy here (no such file; expected expert, random, "
            "a gail train output dir or a policy zip)"
        )
