"""The Atari suite: reference scores, IQM and bootstrap maths on hand-checked numbers, a tiny
suite run end to end (random, a stub scripted expert, an untrained CnnPolicy zip), the video writers."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from genplay.cli import main
from genplay.errors import GenplayError
from genplay.gail.evaluation.scores import ATARI_REFERENCE, human_normalized, iqm, stratified_bootstrap_ci
from genplay.gail.suites.atari_results import SuiteResult
from genplay.gail.suites.atari_suite import PolicySpec, SuiteConfig, run_suite, vec_episode_scores

# ---------------------------------------------------------------------------- maths


def test_reference_scores_are_the_published_ones():
    from genplay.envs.atari import ale_games

    assert len(ATARI_REFERENCE) == 57 and set(ATARI_REFERENCE) <= set(ale_games())
    assert ATARI_REFERENCE["pong"] == (-20.7, 14.6)
    assert ATARI_REFERENCE["breakout"] == (1.7, 30.5)
    assert all(random < human for random, human in ATARI_REFERENCE.values())


def test_human_normalised_score_by_hand():
    assert human_normalized("pong", 0.0) == pytest.approx((0 + 20.7) / (14.6 + 20.7))
    assert human_normalized("pong", -20.7) == pytest.approx(0.0)
    assert human_normalized("pong", 14.6) == pytest.approx(1.0)
    assert human_normalized("breakout", 30.5) == pytest.approx(1.0)
    assert human_normalized("breakout", 16.1) == pytest.approx(0.5)
    np.testing.assert_allclose(human_normalized("breakout", np.array([1.7, 59.3])), [0.0, 2.0])
    with pytest.raises(GenplayError, match="reference"):
        human_normalized("adventure", 1.0)


def test_iqm_by_hand():
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert iqm([1, 2, 3, 4]) == pytest.approx(2.5)  # mean of 2, 3
    assert iqm([1, 2, 3, 4, 1000]) == pytest.approx(3.0)  # the outlier is cut
    assert iqm([7.0]) == 7.0
    assert iqm([[8, 1], [2, 7], [3, 6], [5, 4]]) == pytest.approx(4.5)  # pooled
    np.testing.assert_allclose(iqm(np.array([[1, 2, 3, 4], [5, 6, 7, 80]]), axis=1), [2.5, 6.5])
    scipy_stats = pytest.importorskip("scipy.stats")
    x = np.random.default_rng(0).standard_cauchy(37)
    assert iqm(x) == pytest.approx(scipy_stats.trim_mean(x, 0.25))  # rliable's definition


def test_bootstrap_ci_contains_the_point_and_shrinks_with_more_runs():
    rng = np.random.default_rng(1)

    def width(n: int) -> float:
        runs = {"pong": rng.normal(0.2, 0.5, n), "breakout": rng.normal(1.0, 0.5, n)}
        point, low, high = stratified_bootstrap_ci(runs, reps=1000, seed=3)
        assert low <= point <= high
        assert point == pytest.approx(iqm(np.concatenate(list(runs.values()))))
        return high - low

    small, large = width(5), width(500)
    assert 0 < large < small / 4
    runs = {"pong": rng.normal(0, 1, 400), "breakout": rng.normal(0, 1, 400)}
    point, low, high = stratified_bootstrap_ci(runs, reps=2000)
    assert abs((low + high) / 2 - point) < 0.1 * (high - low)  # a symmetric sample: the point sits mid-interval
    _, low50, high50 = stratified_bootstrap_ci(runs, reps=2000, confidence=0.5)
    assert low < low50 < point < high50 < high
    runs = {"pong": [0.1, 0.5, 0.9]}
    assert stratified_bootstrap_ci(runs, seed=7) == stratified_bootstrap_ci(runs, seed=7)  # reproducible


def test_bootstrap_resamples_within_each_game():
    # All of one game scores 0, all of the other 1: every stratified replicate holds exactly
    # 10 zeros and 10 ones, so the interval has no width; pooled resampling would give one.
    point, low, high = stratified_bootstrap_ci({"a": np.zeros(10), "b": np.ones(10)}, reps=500)
    assert point == low == high == 0.5


# ---------------------------------------------------------------------------- specs and episodes


def test_policy_specs():
    assert PolicySpec.parse("random") == PolicySpec("random")
    assert PolicySpec.parse("learned=runs/{game}/").path_for("pong").as_posix() == "runs/pong"
    spec = PolicySpec.parse("bc:bc-20=runs/bc.zip")
    assert (spec.kind, spec.name, spec.path) == ("bc", "bc-20", "runs/bc.zip")
    for bad, needle in [("dqn", "unknown policy kind"), ("learned", "needs its file"), ("random=x", "takes no file")]:
        with pytest.raises(GenplayError, match=needle):
            PolicySpec.parse(bad)
    with pytest.raises(GenplayError, match="--games"):
        SuiteConfig(("pong", "Pong"), (PolicySpec("random"),))


class _FakeVec:
    """Env ``i`` ends an episode every ``i + 1`` steps, scoring 1 a step."""

    num_envs = 3

    def __init__(self) -> None:
        self.t = np.zeros(3, dtype=int)

    def reset(self):
        return np.zeros((3, 1))

    def step(self, actions):
        self.t += 1
        dones = self.t % (np.arange(3) + 1) == 0
        return np.zeros((3, 1)), np.ones(3, dtype=np.float32), dones, [{}] * 3


def test_vec_episodes_are_not_biased_to_short_ones():
    # 7 episodes over 3 envs: 2, 2 and 3 of them (SB3's split); the fast env 0 gets no extra.
    scores = vec_episode_scores(_FakeVec(), lambda obs: np.zeros(3), 7)
    assert sorted(scores.tolist()) == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 3.0]


# ---------------------------------------------------------------------------- a tiny suite


@dataclass
class _GameResult:
    score: float
    steps: int
    stalled: bool


class _StubExpert:
    """Always FIRE (Pong's action 1); records what it saw."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rams: list[np.ndarray] = []
        self.stalled = False

    def reset(self, ram: np.ndarray) -> None:
        self.rams.append(ram)

    def act(self, ram: np.ndarray) -> int:
        self.rams.append(ram)
        return 1


@pytest.fixture
def stub_experts(monkeypatch):
    """A stand-in for genplay.envs.atari_experts with its interface (ATARI_EXPERTS, play_game)."""
    calls: list[dict] = []

    def play_game(env, expert, *, seed, on_step=None, max_steps=None):
        _, info = env.reset(seed=seed)
        expert.reset(info["ram"][-1])
        score, steps, done = 0.0, 0, False
        while not done and (max_steps is None or steps < max_steps):
            _, reward, terminated, truncated, info = env.step(expert.act(info["ram"][-1]))
            score, steps, done = score + reward, steps + 1, terminated or truncated
        calls.append({"seed": seed, "steps": steps, "sticky": env.unwrapped.ale.getFloat("repeat_action_probability")})
        return _GameResult(score, steps, stalled=seed % 2 == 1)

    module = types.ModuleType("genplay.envs.atari_experts")
    module.ATARI_EXPERTS = {"pong": _StubExpert}
    module.play_game = play_game
    monkeypatch.setitem(sys.modules, "genplay.envs.atari_experts", module)
    return calls


def test_tiny_suite_writes_json_markdown_and_plot(tmp_path, stub_experts):
    config = SuiteConfig(("Pong",), (PolicySpec("random"), PolicySpec("expert")), episodes=2, max_steps=40)
    result = run_suite(config, progress=False)
    assert [c["steps"] for c in stub_experts] == [40, 40]
    assert [c["seed"] for c in stub_experts] == [0, 1]  # one seed per episode
    assert stub_experts[0]["sticky"] == pytest.approx(0.25)  # evaluation plays with sticky actions
    paths = result.write(tmp_path)
    data = json.loads(paths["json"].read_text())
    assert data["games"] == ["pong"] and data["episodes"] == 2 and data["max_steps"] == 40
    assert data["reference"]["pong"] == {"random": -20.7, "human": 14.6}
    assert data["env"]["sticky"] is True and data["env"]["terminal_on_life_loss"] is False
    for name in ("random", "expert"):
        game = data["policies"][name]["games"]["pong"]
        assert np.shape(game["scores"]) == (1, 2)
        assert game["hns"] == pytest.approx(human_normalized("pong", np.mean(game["scores"])))
        agg = data["policies"][name]["human_normalized"]
        assert agg["iqm_ci_low"] <= agg["iqm"] <= agg["iqm_ci_high"]
    assert data["policies"]["expert"]["games"]["pong"]["stalled"] == 1
    md = paths["markdown"].read_text()
    assert "| pong | -20.7 | 14.6 |" in md and "IQM HNS [95% CI]" in md and "cut at 40 steps" in md
    with Image.open(paths["plot"]) as png:
        assert png.format == "PNG" and png.size[0] > 200


@pytest.mark.slow
def test_cli_suite_with_a_learned_cnn_policy(tmp_path, capsys, cnn_zip, stub_experts):
    pattern = str(cnn_zip.parent / "{game}.zip")
    argv = ["evaluate", "--suite", "atari", "--games", "pong", "--policy", f"learned={pattern}", "--policy", "random"]
    argv += ["--policy", "expert", "--episodes", "2", "--seeds", "0,3", "--out", str(tmp_path), "--json"]
    assert main([*argv, "--max-steps", "30"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["policies"]) == ["learned", "random", "expert"] and data["seeds"] == [0, 3]
    assert np.shape(data["policies"]["learned"]["games"]["pong"]["scores"]) == (2, 2)
    assert {c["seed"] for c in stub_experts} == {0, 1, 300_000, 300_001}  # seeds never share an episode start
    assert (tmp_path / "results.md").is_file() and (tmp_path / "scores.png").is_file()


# ---------------------------------------------------------------------------- videos


@pytest.mark.parametrize("fmt", ["gif", "mp4"])
@pytest.mark.slow
def test_video_of_one_episode(tmp_path, fmt):
    from genplay.gail.evaluation.video import moviepy_available, record_episode

    if fmt == "mp4" and not moviepy_available():
        pytest.skip("moviepy is not installed (pip install 'genplay[video]')")
    path = record_episode("pong", PolicySpec("random"), tmp_path, max_steps=25, fmt=fmt)
    assert path == tmp_path / f"pong-random.{fmt}" and path.stat().st_size > 1000
    if fmt == "gif":
        with Image.open(path) as gif:
            assert gif.n_frames > 10 and gif.size == (160, 210)


def test_video_of_the_expert(tmp_path, stub_experts):
    from genplay.gail.evaluation.video import record_episode

    path = record_episode("pong", PolicySpec("expert"), tmp_path, max_steps=12, fmt="gif")
    assert path.stat().st_size > 1000 and stub_experts[0]["steps"] == 12


def test_plain_evaluate_on_an_atari_id_runs_the_suite_for_that_game(tmp_path, capsys):
    from genplay.cli import main

    main(["evaluate", "--env", "genplay/Pong-v0", "--policy", "random", "--episodes", "1", "--max-steps", "30",
          "--out", str(tmp_path / "ev")])  # fmt: skip
    out = capsys.readouterr().out
    assert "| pong |" in out and "expert" in out and (tmp_path / "ev" / "results.json").exists()


def test_expert_normalised_scores_and_learning_curves_from_the_runs(tmp_path):
    """The expert's mean in this suite is the scale's 1 (Pong: random reference -20.7); a run directory's
    ``history.json`` becomes that game's learning curve in ``curves.png``."""
    run = tmp_path / "pong"
    run.mkdir()
    (run / "history.json").write_text(json.dumps([{"timesteps": 1000 * k, "true_return": -21.0 + k} for k in range(5)]))
    learned = PolicySpec("learned", str(tmp_path / "{game}"))
    config = SuiteConfig(
        ("Pong",), (learned, PolicySpec("expert"), PolicySpec("random")), episodes=2, bootstrap_reps=50
    )
    scores = {"learned": {"pong": np.array([[-0.7, 9.3]])}, "expert": {"pong": np.array([[19.3, 19.3]])}}
    scores["random"] = {"pong": np.array([[-20.7, -20.7]])}
    result = SuiteResult(config, scores, stalled={n: {} for n in scores})
    assert result.expert_means() == {"pong": pytest.approx(19.3)}
    np.testing.assert_allclose(result.normalized("learned", "expert")["pong"], [0.5, 0.75])
    assert result.aggregate("random", "expert")["iqm"] == pytest.approx(0.0)
    paths = result.write(tmp_path / "out")
    data = json.loads(paths["json"].read_text())
    assert data["policies"]["learned"]["games"]["pong"]["ens"] == pytest.approx(0.625)
    assert data["policies"]["expert"]["expert_normalized"]["iqm"] == pytest.approx(1.0)
    assert "IQM expert-normalised [95% CI]" in paths["markdown"].read_text()
    assert result.learning_curves() == {"pong": {"learned": [(1000 * k, -21.0 + k) for k in range(5)]}}
    with Image.open(paths["curves"]) as png:
        assert png.format == "PNG"
    no_expert = SuiteResult(
        SuiteConfig(("Pong",), (PolicySpec("random"),)), {"random": scores["random"]}, {"random": {}}
    )
    assert no_expert.expert_means() == {} and "expert_normalized" not in no_expert.to_dict()["policies"]["random"]
    assert "curves" not in no_expert.write(tmp_path / "bare")  # no run logged a history: no curves plot
