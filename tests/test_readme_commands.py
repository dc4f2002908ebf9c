"""Every command the README shows runs, in order, from an empty GENPLAY_CACHE_DIR (shortened where it trains).

A user copies README commands one after the other on a fresh machine; a cache warmed by
earlier sessions once hid an expert that could not be loaded back. So the commands are
parsed out of README.md itself (a new one is tested without editing this file), run in the
README's order in one empty working directory with an empty expert cache, and only their
budgets are shortened, by the rules in ``SHORTEN`` / ``EXTRA`` below. ``genplay`` commands
run in-process (the expert recipes shrunk the same way); ``python scripts/...`` commands run
as subprocesses. What is not run is listed in ``NOT_RUN`` with the test that covers it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

SHORTEN: dict[str, object] = {
    "--timesteps": lambda v: str(max(512, int(v) // 200)),  # 100k -> 512, 1M -> 5k: a rollout or a few
    "--n-episodes": lambda v: str(min(int(v), 4)),
    "--episodes": lambda v: "1",
    "--top": lambda v: "2",
    "--seeds": lambda v: v.split(",")[0],
    "--n": lambda v: str(min(int(v), 4)),
    "--n-demo-games": lambda v: "4",
    "--games-per-pairing": lambda v: "4",
}
"""Flag -> function of the README's value giving the shortened value."""

EXTRA: dict[str, list[str]] = {
    "genplay demo": ["--timesteps", "1024", "--n-demo", "2"],
    "genplay gail train --env genplay/Pong-v0": ["--timesteps", "512"],
    "genplay gail train --algo dac --env genplay/Pong-v0": ["--timesteps", "512"],
    "genplay images train": ["--steps", "3"],
    "genplay music train": ["--steps", "3", "--limit", "8", "--n-eval", "16"],
    "genplay text train": ["--mle-epochs", "1", "--adv-steps", "1", "--disc-pretrain-steps", "1"],
    "genplay demos collect --env genplay/Pong-v0": ["--policy", "random"],  # a scripted game takes minutes
    "python scripts/bench_atari.py": ["--n-demo", "1", "--demo-source", "random", "--agent-steps", "512"]
    + ["--eval-games", "1", "--bc-epochs", "1"],
    "python scripts/bench_boardgames.py": ["--timesteps", "512", "--games-per-pairing", "4", "--n-demo-games", "4"],
    "python scripts/bench_music.py": ["--steps", "3", "--limit", "8", "--n-samples", "16"],
    "python scripts/bench_text.py": ["--minutes", "0.05", "--n-eval", "50", "--max-mle-epochs", "1"]
    + ["--max-adv-steps", "1", "--disc-pretrain-steps", "1", "--temperatures", "1.0"],
    "genplay music evaluate": ["--n", "16", "--limit", "8"],
    "genplay music sample": ["--n", "2"],
    "genplay synth scorer": ["--steps", "20", "--generator-episodes", "2", "--random-episodes", "2"],
}
"""Command prefix -> flags appended (argparse keeps the last value, so these win over the README's)."""

BUDGETS = ("--timesteps", "--steps", "--adv-steps")
"""Budget flags: on a ``--resume`` command the last one given is doubled."""

DROP: dict[str, list[str]] = {
    # the RAM-planning Pong expert plays each full game for minutes; tests/test_atari_suite.py covers its row
    "genplay evaluate --suite atari": ["--policy expert"],
}
"""Command prefix -> ``flag value`` pairs left out of the shortened command."""

NOT_RUN = {
    "torchrun": "launches processes per rank; tests/test_distributed.py runs the same command under torchrun",
    "pip install": "installs; CI itself runs the README's install and test command",
    "python3 -m venv": "the two set-up commands: CI runs the test command, the demo job is genplay demo below",
    "tensorboard": "a server",
}


def readme_commands(text: str) -> list[str]:
    """The shell commands in README.md's code blocks, continuation lines joined, comments dropped."""
    out = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith(("genplay ", "python scripts/", "torchrun ", "pip install", "python3 -m venv")):
                out.append(re.sub(r"\s+\[[^\]]*\]", "", line))  # optional flags shown as [--flag]
    return out


def _starts(command: str, prefix: str) -> bool:
    """``command`` is ``prefix`` or begins with it as whole words (``genplay demo`` is not ``genplay demos``)."""
    return command == prefix or command.startswith(prefix + " ")


def shortened(command: str) -> list[str]:
    for prefix, pairs in DROP.items():
        if _starts(command, prefix):
            for pair in pairs:
                command = command.replace(f" {pair}", "")
    argv = shlex.split(command)
    for i, arg in enumerate(argv[:-1]):
        if arg in SHORTEN and not argv[i + 1].startswith("--"):
            argv[i + 1] = SHORTEN[arg](argv[i + 1])
    for prefix, extra in EXTRA.items():
        if _starts(command, prefix):
            argv += extra
    if "--resume" in argv:  # a resumed run goes on past the budget of the run it resumes
        for i in range(len(argv) - 1, 0, -1):
            if argv[i - 1] in BUDGETS:
                argv[i] = str(2 * int(argv[i]))
                break
    return argv


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


def test_the_readme_has_commands_to_run():
    assert sum(c.startswith("genplay ") for c in COMMANDS) >= 20


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """One working directory and one empty expert cache for the whole README, as a user has."""
    return tmp_path_factory.mktemp("readme"), tmp_path_factory.mktemp("empty_cache")


@pytest.mark.readme
@pytest.mark.parametrize("command", COMMANDS, ids=[c[:60] for c in COMMANDS])
def test_readme_command_runs(command, workdir, monkeypatch, capsys):
    skip = next((why for prefix, why in NOT_RUN.items() if _starts(command, prefix)), None)
    if skip:
        pytest.skip(skip)
    cwd, cache = workdir
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("GENPLAY_CACHE_DIR", str(cache))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(cwd / "minari"))  # a fresh Minari root too (exports refuse reuse)
    argv = shortened(command)
    if argv[0] == "genplay":
        from genplay.cli import main
        from genplay.gail.data import experts

        for env_id in ("CartPole-v1", "Pendulum-v1", "Acrobot-v1"):  # the same recipe, a 1k-step budget
            tiny = dataclasses.replace(experts.recipe_for(env_id), chunk=1_000, max_steps=1_000, threshold=None)
            monkeypatch.setitem(experts.RECIPES, env_id, tiny)
        code = main(argv[1:])
        err = capsys.readouterr().err
    else:
        env = {**os.environ, "GENPLAY_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(
            [sys.executable, str(ROOT / argv[1]), *argv[2:]], cwd=cwd, env=env, capture_output=True, text=True
        )
        code, err = proc.returncode, proc.stderr
    assert code == 0, f"{' '.join(argv)} exited {code}: {err[-2000:]}"
