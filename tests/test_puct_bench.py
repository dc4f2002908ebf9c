"""scripts/bench_puct.py: bad flags, games and opponents are one ``error:`` line and exit 2, before any game."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))
import bench_puct  # noqa: E402
import benchlib  # noqa: E402


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--sims", "0", "--opponent", "mcts:5"], "--sims"),
        (["--sims", "5", "--opponent", "mcts:5", "--games", "-3"], "--games"),
        (["--sims", "5", "--opponent", "mcts:5", "--mix", "nan"], "--mix"),
        (["--sims", "5", "--opponent", "pymcts:x"], "pymcts:N"),
        (["--sims", "5", "--opponent", "mcts:5", "--game", "no_such_game"], "--game"),
        (["--sims", "5", "--opponent", "mcts:5"], "/no/such/run"),
    ],
)
def test_bad_input_is_one_line(extra, needle, capsys):
    """In process, through the script's own entry point (``run_main``), as the command line runs it."""
    with pytest.raises(SystemExit) as info:
        benchlib.run_main(lambda: bench_puct.main(["--run", "/no/such/run", *extra]))
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and err.startswith("error:") and needle in err and "\n" not in err, err


@pytest.mark.slow  # a subprocess (DEVELOPERS.md: those are slow)
def test_the_script_itself_exits_2_with_one_line():
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "bench_puct.py"),
            "--run",
            "/no/such/run",
            "--sims",
            "0",
            "--opponent",
            "mcts:5",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    err = done.stderr.strip()
    assert done.returncode == 2 and err.startswith("error:") and "--sims" in err and "\n" not in err, err
