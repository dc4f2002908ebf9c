"""Flag parsing shared by every ``genplay`` command: dataclass fields as flags (their docstrings as
help), typed flag values, and the checks that turn bad input into one ``error:`` line naming the flag."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import math
import re
import typing
from pathlib import Path

from genplay.errors import GenplayError


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (they are the ``--help`` texts)."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
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


positive_int = int_at_least(1)
seed_int = int_at_least(0, 2**31 - 1)


def nonempty_str(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    """One ``--flag`` per field (default None = keep the preset's value)."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            continue
        flag = "--" + (prefix + f.name).replace("_", "-")
        kwargs: dict = {"dest": prefix + f.name, "default": None, "help": docs.get(f.name, "")}
        if hint is bool:
            kwargs.update(type=_parse_bool, metavar="BOOL")
        elif typing.get_origin(hint) is tuple:
            kwargs.update(type=int, nargs="+", metavar="N")
        elif hint in (int, float):
            kwargs["type"] = hint
        elif hint is str:
            kwargs["type"] = nonempty_str
        parser.add_argument(flag, **kwargs)


def flag_error(exc: Exception) -> GenplayError:
    """A config ``ValueError`` ("GAILConfig.disc_lr: ...") as a one-line error naming the flag ("--disc-lr: ...";
    ``PPOConfig`` and ``DQNConfig`` fields are ``--ppo-`` and ``--dqn-`` flags)."""

    prefixes = {"GAILConfig": "", "PPOConfig": "ppo-", "DQNConfig": "dqn-"}

    def flag(m: re.Match) -> str:
        return "--" + prefixes[m.group(1)] + m.group(2).replace("_", "-")

    return GenplayError(re.sub(r"\b(GAILConfig|PPOConfig|DQNConfig)\.(\w+)", flag, " ".join(str(exc).split())))


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
