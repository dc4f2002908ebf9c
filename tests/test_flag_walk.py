"""Every flag of every subcommand, given a wrong value of each kind: one ``error:`` line, exit 2, never a traceback.

The parser is walked, so a flag added later is covered without editing this file. Each
subcommand runs from a base command line that is valid except for one input that fails
only after the flags are checked (a missing demos file, an output path that is a file), so
no case trains anything: a flag value that is accepted ends on that input's error instead.
Values that are never right for a number (``nan``, ``inf``, ``abc``, empty) must be refused
by name, whichever way the flag checks them.
"""

from __future__ import annotations

import argparse

import pytest

from genplay.cli import build_parser, main

MISSING = "/nonexistent/genplay-walk"
BASES: dict[str, list[str]] = {
    "demo": ["--out", "{file}"],
    "expert train": ["--env", "NoSuchEnv-v9"],
    "demos collect": ["--env", "CartPole-v1", "--out", "{dir}", "--n-episodes", "1"],
    "demos info": [MISSING],
    "gail train": ["--env", "CartPole-v1", "--demos", MISSING, "--out", "{new}", "--timesteps", "10"],
    "evaluate": ["--env", "CartPole-v1", "--policy", MISSING],
    "images train": ["--out", "{file}"],
    "images sample": ["--run", MISSING],
    "images evaluate": ["--run", MISSING],
    "music train": ["--out", "{file}"],
    "music sample": ["--run", MISSING, "--out", "{new}"],
    "music evaluate": ["--run", MISSING],
    "text train": ["--out", "{file}"],
    "text sample": ["--run", MISSING],
    "text evaluate": ["--run", MISSING],
    "synth scorer": ["--run", MISSING],
    "synth export": [MISSING],
    "synth import": [MISSING, "--out", "{new}"],
    "synth report": ["--run", MISSING, "--data", MISSING, "--out", "{new}"],
    "reward export": [MISSING, "--out", "{new}"],
    "reward train": ["--reward", MISSING, "--out", "{new}"],
    "train": [],  # its flags depend on --algo: walked per algorithm below
}
"""Subcommand -> a command line whose only fault comes after the flags are checked."""

NEVER_NUMBERS = ("nan", "inf", "abc", "")
OTHER_WRONG = ("-1", "0", "99999999999", "1e30")


def _leaves(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(prefix), parser
        return
    for name, sub in subs[0].choices.items():
        yield from _leaves(sub, (*prefix, name))


def _numeric(action: argparse.Action) -> bool:
    """Whether the flag takes a number: its type turns '1' into an int or float."""
    try:
        return isinstance(action.type("1"), (int, float)) and not isinstance(action.type("1"), bool)
    except Exception:
        return False


CASES = []
for command, sub in _leaves(build_parser()):
    for action in sub._actions:
        if not action.option_strings or action.type is None or action.dest == "help":
            continue
        flag = action.option_strings[-1]
        kinds = NEVER_NUMBERS + OTHER_WRONG if _numeric(action) else ("", "\x00", "-" * 5000)
        for value in kinds:
            marks = () if value in ("nan", "\x00") else pytest.mark.slow  # the fast tier: one kind of each
            CASES.append(pytest.param(command, flag, value, id=f"{command}|{flag}|{value[:12]!r}", marks=marks))


def _train_parsers():
    """``genplay train --algo A``'s parser of each algorithm with flags of its own (gail and dac are
    ``gail train``'s, walked above)."""
    from genplay.cli_train import ADAPTED, _parser
    from genplay.gail.algos.registry import ALGORITHMS

    for name, spec in sorted(ALGORITHMS.items()):
        if name not in ADAPTED:
            yield f"train --algo {name}", _parser(name, spec, spec.load()[1])


TRAIN_BASE = ["--env", "CartPole-v1", "--demos", MISSING, "--out", "{new}", "--timesteps", "10"]
for command, sub in _train_parsers():
    BASES[command] = TRAIN_BASE
    for action in sub._actions:
        if not action.option_strings or action.type is None or action.dest == "help":
            continue
        flag = action.option_strings[-1]
        kinds = NEVER_NUMBERS + OTHER_WRONG if _numeric(action) else ("", "\x00", "-" * 5000)
        for value in kinds:
            marks = () if value in ("nan", "\x00") else pytest.mark.slow
            CASES.append(pytest.param(command, flag, value, id=f"{command}|{flag}|{value[:12]!r}", marks=marks))


def test_every_subcommand_has_a_base_command_line():
    assert {c for c, _ in _leaves(build_parser())} <= set(BASES)


@pytest.mark.parametrize(("command", "flag", "value"), CASES)
def test_a_wrong_flag_value_is_one_error_line(command, flag, value, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    fill = {"{file}": str(tmp_path / "file"), "{dir}": str(tmp_path / "dir"), "{new}": str(tmp_path / "new")}
    base = [fill.get(a, a) for a in BASES[command]]
    code = main([*command.split(), *base, flag, value])
    err = capsys.readouterr().err.strip()
    assert code == 2, f"exit {code}: {err[-500:]}"
    assert err.startswith("error:") and "\n" not in err, err[-1000:]
    if value in NEVER_NUMBERS and value != "":
        assert flag in err, f"{flag} {value!r} was not refused by name: {err}"
