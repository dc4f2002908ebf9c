"""scripts/bench_atari.py with the soft-Q learners: the family's Atari preset, --set on its config, and bad input
refused in one line before any game is played."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_atari  # noqa: E402

from genplay.gail.algos.iq_learn import IQLearnConfig  # noqa: E402
from genplay.gail.algos.off_policy_presets import iq_preset, sqil_preset  # noqa: E402
from genplay.gail.algos.sqil import SQILConfig  # noqa: E402
from genplay.gail.suites.atari import atari_factory  # noqa: E402


def _args(monkeypatch, *argv: str):
    monkeypatch.setattr(sys, "argv", ["bench_atari.py", *argv])
    return bench_atari.parse()


def test_soft_q_learners_start_from_their_atari_preset(monkeypatch):
    factory = atari_factory("pong")
    args = _args(monkeypatch, "--mode", "learn", "--algo", "iq", "--seed", "3", "--set", "learning_starts=200")
    config = bench_atari.off_policy_config(args, factory)
    assert isinstance(config, IQLearnConfig) and config.seed == 3 and config.learning_starts == 200
    assert (config.learning_rate, config.temperature, config.target_update_interval) == (1e-4, 1e-3, 1_000)
    assert iq_preset("genplay/Pong-v0").buffer_size == sqil_preset("genplay/Pong-v0").buffer_size == 100_000
    assert iq_preset("ci/Freeway42-v0") == IQLearnConfig()  # not an ALE id of genplay's: the defaults
    args = _args(monkeypatch, "--mode", "learn", "--algo", "sqil")
    assert isinstance(bench_atari.off_policy_config(args, factory), SQILConfig)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--algo", "iq"], "--mode learn"),  # throughput times GAIL against PPO only
        (["--mode", "learn", "--algo", "sqil", "--set", "no_such_field=1"], "no_such_field"),
        (["--mode", "learn", "--algo", "iq", "--set", "learning_rate=-1"], "learning_rate"),
        (["--mode", "learn", "--algo", "gail", "--set", "dqn_batch_size=8"], "dqn_"),
    ],
)
def test_bad_input_is_one_line_before_any_game(argv, needle, monkeypatch, capsys):
    monkeypatch.setattr(bench_atari, "demos_for", lambda *a, **k: pytest.fail("collected demos before refusing"))
    monkeypatch.setattr(sys, "argv", ["bench_atari.py", *argv])
    with pytest.raises(SystemExit) as info:
        bench_atari.main()
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and err.startswith("error:") and needle in err and "\n" not in err, err
