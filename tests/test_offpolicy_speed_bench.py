"""scripts/bench_offpolicy_speed.py: bad flags are one ``error:`` line and exit 2; the three learners it
times share the network input, the replay settings and the rows per update."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_offpolicy_speed as bench  # noqa: E402


@pytest.mark.parametrize(
    "argv, field",
    [(["--learners", "dqn,ppo"], "--learners"), (["--steps", "0"], "--steps"), (["--device", "tpu"], "--device")],
)
def test_bad_flags_are_one_line(argv, field, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.parse(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and field in err and "\n" not in err


@pytest.mark.slow
def test_learners_share_settings_and_run():
    from genplay.gail.suites.atari import atari_factory, scripted_expert_demos

    small = ["--learning-starts", "16", "--buffer-size", "64", "--batch-size", "4", "--expert-batch-size", "4"]
    args = bench.parse(small)
    factory = atari_factory("pong")
    demos = scripted_expert_demos(factory, 1, seed=0, max_steps=40)
    dqn, sqil, iq = (bench.build(name, args, factory, demos) for name in bench.LEARNERS)
    assert dqn.batch_size == 8 and sqil.config.batch_size + sqil.config.expert_batch_size == 8
    assert dqn.replay_buffer.buffer_size == sqil.algo.replay_buffer.buffer_size == iq.algo.replay_buffer.buffer_size
    assert type(dqn.q_net.features_extractor).__name__ == "NatureCNN"
    for learner in (dqn, sqil, iq):
        assert bench.timed_steps(learner, 24) > 0 and learner.num_timesteps == 24
