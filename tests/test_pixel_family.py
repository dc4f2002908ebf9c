"""IQ-Learn and SQIL learn a pixel task end to end through ``genplay train`` (issue 29, "Pixels, small").

The task, the commands and the measure are ``scripts/bench_pixel_family.py``'s: Freeway at CI size
(42x42 frames, 2 stacked, sticky actions), demos from ``genplay demos collect --policy expert`` (one
game of the scripted RAM expert), ``genplay train --algo A`` for 800 agent steps (150 updates), then
the run's greedy policy on 2 evaluation episodes of 300 steps: its score normalised between uniform
random (0) and the expert (1), and its agreement with the expert's actions on the expert's own
evaluation frames. The negative control is a run, not a test (two more training runs cost ~20 s a
suite): with the learning signal switched off (SQIL: every reward 0; IQ-Learn: every demo row out of its
loss; ``python scripts/bench_pixel_family.py --algo A --signal off``) the measure fails, seed 0: SQIL 0.0
normalised and 0.37 agreement, IQ-Learn 0.0 and 0.24. The switch itself is tested below, term by term.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_pixel_family as pixel  # noqa: E402

from genplay.envs import EnvFactory  # noqa: E402
from genplay.gail.algos.iq_learn import IQLearn, IQLearnConfig  # noqa: E402
from genplay.gail.algos.sqil import SQIL, SQILConfig  # noqa: E402
from genplay.gail.learners.off_policy import Batch  # noqa: E402

ALGOS = ["iq", "sqil"]


def learned(result: dict[str, float]) -> bool:
    """The pass mark: at least 0.6 of the expert's score over random's and 0.9 agreement with its actions."""
    return result["normalised"] >= 0.6 and result["expert_agreement"] >= 0.9


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> tuple[Path, pixel.Baselines]:
    demos = pixel.collect_demos_file(tmp_path_factory.mktemp("pixel") / "freeway.npz")
    base = pixel.baselines()
    assert base.expert_return >= 2.0 and base.random_return == 0.0  # walking up crosses; random never does
    return demos, base


@pytest.mark.slow
@pytest.mark.parametrize("algo", ALGOS)
def test_learns_freeway_from_pixels_through_the_cli(algo, task, tmp_path):
    demos, base = task
    run = pixel.train_run(algo, demos, tmp_path / "run")
    assert {"policy.zip", "checkpoint.pt", "config.json"} <= {p.name for p in run.iterdir()}
    result = pixel.evaluate_run(run, base)
    assert learned(result), result


def _batch() -> Batch:
    return Batch(
        torch.randn(6, 4),
        torch.tensor([0, 1, 1, 0, 1, 0]),
        torch.randn(6, 4),
        torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 0.0]),
        torch.tensor([False, False, False, True, True, True]),
    )


def test_sqil_switched_off_pays_no_reward(cartpole_demos):
    config = SQILConfig(learning_starts=10, buffer_size=500, batch_size=8, expert_batch_size=8, checkpoint_every=0)
    sqil = SQIL(venv=EnvFactory("CartPole-v1").make_vec(1, seed=0), demos=cartpole_demos, config=config)
    sqil.learn(40)
    batch = _batch()
    on = sqil.targets(batch)
    with pixel.signal_off("sqil"):
        off = sqil.targets(batch)
        assert sqil.absorbing_reward() == 0.0
    tail = config.gamma * sqil.absorbing_reward() / (1 - config.gamma)  # the absorbing state pays, unpatched
    torch.testing.assert_close(on - off, batch.expert.float() + batch.terminated * tail)


@pytest.mark.parametrize("part", ["off", "expert-term-off", "expert-phi-off"])
def test_iq_learn_switched_off_drops_the_demo_terms(cartpole_demos, part):
    """The patched loss is what is left of -J(Q) once the named terms are gone (hand-computed here)."""
    config = IQLearnConfig(learning_starts=10, buffer_size=500, batch_size=8, expert_batch_size=8, checkpoint_every=0)
    iq = IQLearn(venv=EnvFactory("CartPole-v1").make_vec(1, seed=0), demos=cartpole_demos, config=config)
    batch, a, g, c = _batch(), config.temperature, config.gamma, config.chi2_alpha
    q, q_next = iq.algo.q_net(batch.obs), iq.algo.q_net(batch.next_obs)
    next_v = g * (1 - batch.terminated) * a * torch.logsumexp(q_next / a, 1)
    r = q.gather(1, batch.acts[:, None]).squeeze(1) - next_v
    e = batch.expert
    value = (a * torch.logsumexp(q / a, 1) - next_v)[e].mean()
    want = {
        "off": r[~e].pow(2).sum() / (len(r) * 4 * c),
        "expert-phi-off": value + r[~e].pow(2).sum() / (len(r) * 4 * c),
        "expert-term-off": value + r.pow(2).mean() / (4 * c),
    }[part]
    with pixel.signal_off("iq", part):
        loss, _ = iq.critic_loss(batch)
    torch.testing.assert_close(loss, want)
    loss.backward()  # the gradient flows through what is left
    assert all(np.isfinite(p.grad.numpy()).all() for p in iq.algo.q_net.parameters() if p.grad is not None)


def test_signal_off_refuses_what_it_cannot_switch():
    with pytest.raises(ValueError, match="dagger"), pixel.signal_off("dagger"):
        pass


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--horizon", "0"], "--horizon"),
        (["--timesteps", "-5"], "--timesteps"),
        (["--algo", "sqil", "--signal", "expert-term-off"], "--signal"),
    ],
)
def test_the_script_refuses_bad_input_in_one_line_before_any_work(argv, flag, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["bench_pixel_family.py", *argv])
    with pytest.raises(SystemExit) as info:
        pixel.main()
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and err.startswith("error:") and flag in err and "\n" not in err
