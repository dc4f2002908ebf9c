"""scripts/bench_puct.py: bad flags, games and opponents are one ``error:`` line and exit 2, before any game."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_puct.py"


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
def test_bad_input_is_one_line(extra, needle):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--run", "/no/such/run", *extra], capture_output=True, text=True, timeout=120
    )
    err = done.stderr.strip()
    assert done.returncode == 2 and err.startswith("error:") and needle in err and "\n" not in err, err
