"""``genplay evaluate --suite boardgames``: ratings, files, and one-line errors."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pyspiel")

from genplay.cli import main  # noqa: E402
from genplay.gail.suites.boardgame_suite import bradley_terry, elo_gap  # noqa: E402
from genplay.gail.suites.boardgames import Record, wilson  # noqa: E402


def test_bradley_terry_recovers_known_gaps():
    elo = bradley_terry({("a", "random"): Record(750, 0, 250), ("b", "a"): Record(0, 1000, 0)})
    assert elo["random"] == 0
    assert abs(elo["a"] - elo_gap(0.75)) < 5 and abs(elo["b"] - elo["a"]) < 5  # 191 Elo; a draw-only pair ties


def test_wilson_interval_covers_the_rate_and_stays_in_bounds():
    assert wilson(0, 200)[0] == 0 and 0 < wilson(0, 200)[1] < 0.02
    lo, hi = wilson(150, 200)
    assert lo < 0.75 < hi and hi - lo < 0.13


@pytest.mark.slow
def test_suite_writes_json_markdown_plot(tmp_path, capsys):
    out = tmp_path / "suite"
    argv = ["evaluate", "--suite", "boardgames", "--env", "genplay/TicTacToe-v0", "--policy", "alphabeta:9"]
    assert main([*argv, "--n-episodes", "4", "--out", str(out)]) == 0
    result = json.loads((out / "suite.json").read_text())
    assert (out / "suite.md").read_text().startswith("### tic_tac_toe") and (out / "suite.png").stat().st_size > 0
    rows = {(r["player"], r["opponent"]): r["total"] for r in result["pairings"]}
    assert rows[("alphabeta:9", "solver")]["draw"] == 1.0 and rows[("alphabeta:9", "random")]["loss"] == 0.0
    assert result["elo"]["solver"] > result["elo"]["mcts:10"] > result["elo"]["random"] == 0
    assert "| alphabeta:9 | solver |" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--env", "CartPole-v1", "--policy", "random"], "--env"),
        (["--env", "genplay/TicTacToe-v0", "--policy", "mcts:many"], "--policy"),
        (["--env", "genplay/TicTacToe-v0", "--policy", "random", "--n-episodes", "0"], "--n-episodes"),
    ],
)
def test_suite_bad_input_is_one_error_line(capsys, argv, needle):
    assert main(["evaluate", "--suite", "boardgames", *argv]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
