"""scripts/bench_atari_experts.py: bad flags are one ``error:`` line and exit 2 before any game is
played; pixel BC's held-out accuracy on tiny demos (plain and class-balanced); the demos' expert kind."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ale_py")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_atari_experts  # noqa: E402

from genplay.errors import EnvError  # noqa: E402
from genplay.gail.suites.atari import atari_factory, scripted_expert_demos  # noqa: E402


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--game", "alien"], "--game"),
        (["--game", "boxing", "--kind", "planner"], "--game"),
        (["--kind", "oracle"], "--kind"),
        (["--games", "0"], "--games"),
        (["--games", "4", "--bc-train-games", "3", "--bc-test-games", "2"], "--bc-train-games"),
        (["--bc-curve", "1,x"], "--bc-curve"),
        (["--bc-curve", "0,3"], "--bc-curve"),
        (["--games", "5", "--bc-curve", "1,10"], "--bc-curve"),
        (["--curve-seeds", "-1"], "--curve-seeds"),
        (["--bc-max-train", "0"], "--bc-max-train"),
    ],
)
def test_bad_flags_are_refused_before_any_game(argv, flag, monkeypatch, capsys):
    monkeypatch.setattr(bench_atari_experts, "expert_demos", lambda *a, **k: pytest.fail("played before refusing"))
    monkeypatch.setattr(sys, "argv", ["bench_atari_experts.py", *argv])
    with pytest.raises(SystemExit) as info:
        bench_atari_experts.main()
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and err.startswith("error:") and flag in err and "\n" not in err


@pytest.mark.slow
def test_demos_name_the_expert_kind_and_refuse_an_unknown_one():
    factory = atari_factory("pong")
    assert scripted_expert_demos(factory, 1, max_steps=5).metadata["policy"] == "scripted:pong"
    assert scripted_expert_demos(factory, 1, max_steps=5, kind="planner").metadata["policy"] == "scripted:pong-planner"
    with pytest.raises(EnvError, match="no scripted expert for genplay/Boxing-v0 \\(planner\\)"):
        scripted_expert_demos(atari_factory("boxing"), 1, kind="planner")
    with pytest.raises(EnvError, match="unknown Atari expert kind"):
        scripted_expert_demos(factory, 1, kind="oracle")


def test_balanced_weights_are_the_inverse_action_frequency():
    acts = np.array([0] * 9 + [2])
    weights = bench_atari_experts.action_weights(acts, 4)
    np.testing.assert_allclose(weights, [10 / 18, 0.0, 5.0, 0.0])
    assert weights[acts].mean() == pytest.approx(1.0)  # the loss keeps its scale
    assert weights[0] * 9 == pytest.approx(weights[2] * 1)  # each action weighs the same in total


@pytest.mark.slow
@pytest.mark.parametrize("balanced", [False, True])
def test_bc_accuracy_is_measured_on_games_it_never_saw(balanced):
    demos = scripted_expert_demos(atari_factory("breakout"), 3, max_steps=40)
    sizes = bench_atari_experts.BCSizes(max_train=60, max_test=30, epochs=1, batch_size=32, balanced=balanced)
    train_idx, game_of = bench_atari_experts.game_rows(demos, range(2), 60, np.random.default_rng(0))
    assert len(train_idx) == 60 and set(game_of) == {0, 1}
    policy, stats = bench_atari_experts.fit_bc(demos, range(2), sizes, seed=0)
    accuracy, balanced, n_test, acts = bench_atari_experts.action_accuracy(policy, demos, range(2, 3), 30, seed=0)
    assert stats["bc_train_transitions"] == 60 and n_test == 30 and 0.0 <= accuracy <= 1.0 and 0.0 <= balanced <= 1.0
    assert set(acts.tolist()) <= set(demos.acts[int(demos.episode_lengths[:2].sum()) :].tolist())
