"""The Elo ladder: the Bradley-Terry fit, its bootstrap intervals, the round-robin CLI and its errors."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("choix")

from genplay.gail.evaluation.ladder import ELO_PER_NAT, FitConfig, Games, fit_elo, rate  # noqa: E402
from genplay.settings import ConfigError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _p(elo_a: float, elo_b: float) -> float:
    """Bradley-Terry probability that a beats b."""
    return 1 / (1 + 10 ** ((elo_b - elo_a) / 400))


def _tournament(true: np.ndarray, pairs: list[tuple[int, int]], n: int, rng=None) -> Games:
    """``n`` games per pair and colour: expected counts (``rng`` None) or sampled ones; no draws."""
    rows, wdl = [], []
    for i, j in pairs:
        for _ in range(2):
            p = _p(true[i], true[j])
            w = round(n * p) if rng is None else int(rng.binomial(n, p))
            rows.append((i, j))
            wdl.append((w, 0, n - w))
    return Games(len(true), np.array(rows), np.array(wdl))


def _round_robin(k: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(k) for j in range(i + 1, k)]


def test_fit_recovers_known_strengths_from_simulated_games():
    true = np.array([0.0, 150.0, 300.0, 500.0, 700.0])
    games = _tournament(true, _round_robin(5), 2000, np.random.default_rng(0))
    elo = fit_elo(games.points(), games.played(), anchor=0, prior_draws=0.0)
    assert elo[0] == 0 and np.abs(elo - true).max() < 30, elo


def test_fit_is_not_the_win_rate_when_the_schedule_is_unbalanced():
    # a (400) meets only stronger entrants and e; b (300) only the weak: b scores more, a is stronger
    names = ["random", "e", "b", "a", "c", "d"]
    true = np.array([0.0, 100.0, 300.0, 400.0, 800.0, 1000.0])
    pairs = [(0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (4, 5), (1, 3)]
    games = _tournament(true, pairs, 500)
    score = games.points().sum(1) / (games.points() + games.points().T).sum(1)
    assert score[2] > score[3]  # by win rate alone b would rank above a
    r = rate(games, anchor=0, config=FitConfig(bootstrap=0, prior_draws=0.0))
    assert r.elo[3] > r.elo[2], dict(zip(names, r.elo.round()))
    assert np.abs(r.elo - true).max() < 25, dict(zip(names, r.elo.round()))


def test_a_draw_is_half_a_win_to_each_side():
    drawn = Games(2, np.array([[0, 1]]), np.array([[10, 20, 10]]))
    decisive = Games(2, np.array([[0, 1]]), np.array([[20, 0, 20]]))
    assert np.allclose(drawn.points(), decisive.points())
    assert abs(fit_elo(drawn.points(), drawn.played(), anchor=0)[1]) < 1e-6
    lopsided = Games(2, np.array([[0, 1]]), np.array([[60, 20, 20]]))  # 0.7 score: 147 Elo
    assert (
        abs(fit_elo(lopsided.points(), lopsided.played(), anchor=1, prior_draws=0)[0] - ELO_PER_NAT * np.log(7 / 3))
        < 0.5
    )


def test_prior_draws_keep_an_unbeaten_entrant_finite_and_zero_refuses():
    games = Games(3, np.array([[0, 1], [1, 2]]), np.array([[0, 0, 50], [0, 0, 50]]))
    elo = fit_elo(games.points(), games.played(), anchor=0, prior_draws=0.1)
    assert np.isfinite(elo).all() and elo[2] > elo[1] > elo[0] == 0
    with pytest.raises(ValueError, match="never scored"):
        fit_elo(games.points(), games.played(), anchor=0, prior_draws=0.0)


def test_bootstrap_interval_holds_the_fit_and_narrows_with_games():
    true = np.array([0.0, 200.0, 400.0])
    width = []
    for n in (40, 640):
        r = rate(_tournament(true, _round_robin(3), n), anchor=0, config=FitConfig(bootstrap=100, seed=1))
        assert (r.low <= r.elo + 1e-9).all() and (r.elo <= r.high + 1e-9).all() and r.low[0] == r.high[0] == 0
        assert r.games.tolist() == [4 * n] * 3
        width.append(r.high[2] - r.low[2])
    assert width[1] < 0.4 * width[0], width  # 16x the games: about a quarter of the width


@pytest.mark.slow
def test_bootstrap_intervals_cover_the_true_ratings():
    true = np.array([0.0, 100.0, 250.0, 450.0])
    rng = np.random.default_rng(7)
    hits = total = 0
    for t in range(30):
        games = _tournament(true, _round_robin(4), 40, rng)
        r = rate(games, anchor=0, config=FitConfig(bootstrap=100, seed=t))
        hits += int(((r.low[1:] <= true[1:]) & (true[1:] <= r.high[1:])).sum())
        total += 3
    assert 0.85 <= hits / total <= 1.0, hits / total  # nominal 0.95


def test_games_and_config_refuse_bad_input():
    with pytest.raises(ValueError, match="distinct"):
        Games(2, np.array([[0, 0]]), np.array([[1, 0, 0]]))
    with pytest.raises(ValueError, match=r"\(K, 3\)"):
        Games(2, np.array([[0, 1]]), np.array([[1, 0]]))
    with pytest.raises(ConfigError, match="bootstrap"):
        FitConfig(bootstrap=-1)


# --- the round-robin on a real game -------------------------------------------------------------

pytest.importorskip("pyspiel")

from genplay.cli import main  # noqa: E402
from genplay.gail.suites.board_ladder import LadderConfig, entrants_of, schedule  # noqa: E402


def test_schedule_gives_slow_pairings_fewer_games():
    entrants = entrants_of("genplay/TicTacToe-v0", ["random", "mcts:5", "solver"])
    plan = schedule(entrants, LadderConfig(n_per_colour=30, slow=("solver",), slow_n_per_colour=4))
    assert plan == [(0, 1, 30), (0, 2, 4), (1, 2, 4)]
    with pytest.raises(Exception, match="--slow"):
        schedule(entrants, LadderConfig(slow=("mcts:9",)))


@pytest.mark.slow
def test_cli_ladder_writes_json_markdown_plot(tmp_path, capsys):
    out = tmp_path / "ladder"
    argv = ["evaluate", "--suite", "boardgames", "--env", "genplay/TicTacToe-v0", "--ladder", "random,mcts:5,solver"]
    assert main([*argv, "--n-episodes", "6", "--out", str(out)]) == 0
    result = json.loads((out / "ladder.json").read_text())
    assert (out / "ladder.png").stat().st_size > 0 and "| solver |" in (out / "ladder.md").read_text()
    elo = {r["entrant"]: r["elo"] for r in result["ratings"]}
    assert elo["solver"] > elo["random"] == 0 and result["anchor"] == "random"
    assert len(result["pairings"]) == 3 and len(result["games"]) == 6
    assert sum(g["win"] + g["draw"] + g["loss"] for g in result["games"]) == 36
    assert all(r["ci95"][0] <= r["elo"] <= r["ci95"][1] for r in result["ratings"])
    assert "| solver |" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--ladder", "random,mcts:many"], "--ladder"),
        (["--ladder", "random"], "--ladder"),
        (["--ladder", "random,random"], "--ladder"),
        (["--ladder", "random,/no/such/run"], "--ladder"),
        (["--ladder", "random,puct:/no/such/run:20"], "--ladder"),
        (["--ladder", "random,mcts:5", "--policy", "random"], "--policy"),
        (["--ladder", "random,mcts:5", "--opponents", "mcts:5"], "--opponents"),
        (["--ladder", "random,mcts:5", "--n-episodes", "0"], "--n-episodes"),
    ],
)
def test_cli_ladder_bad_input_is_one_error_line(capsys, extra, needle):
    assert main(["evaluate", "--suite", "boardgames", "--env", "genplay/TicTacToe-v0", *extra]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines


def test_ladder_off_a_board_game_is_one_error_line(capsys):
    assert main(["evaluate", "--env", "CartPole-v1", "--policy", "random", "--ladder", "random,mcts:5"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--ladder" in lines[0], lines


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--env", "genplay/TicTacToe-v0", "--entrants", "random,alphabeta:x"], "--entrants"),
        (["--env", "CartPole-v1", "--entrants", "random,mcts:5"], "--env"),
        (["--env", "genplay/TicTacToe-v0", "--entrants", "random,mcts:5", "--bootstrap", "-1"], "--bootstrap"),
        (["--env", "genplay/TicTacToe-v0", "--entrants", "random,mcts:5", "--slow", "solver"], "--slow"),
    ],
)
def test_bench_elo_bad_input_is_one_error_line(monkeypatch, capsys, argv, needle):
    monkeypatch.setattr(sys, "argv", ["bench_elo.py", *argv])
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(ROOT / "scripts" / "bench_elo.py"), run_name="__main__")
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
