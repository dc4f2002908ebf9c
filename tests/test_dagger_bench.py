"""scripts/bench_dagger.py: the flags that change the learner reach the DAgger settings it trains with."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

OTHELLO = "genplay/Othello-v0"


def _bench():
    path = Path(__file__).parents[1] / "scripts" / "bench_dagger.py"
    spec = importlib.util.spec_from_file_location("bench_dagger", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def _config(bench, argv: list[str]):
    args = bench.parser().parse_args(["--env", OTHELLO, *argv])
    return bench.bench_config(argparse.Namespace(**{**vars(args), "seed": 3}))


def test_learner_flags_override_the_preset():
    bench = _bench()
    config, n_demo, steps = _config(bench, ["--symmetric-policy", "off", "--net-arch", "512,128", "--timesteps", "64"])
    assert (config.symmetric_policy, config.net_arch, config.seed, steps) == (False, (512, 128), 3, 64)
    config, _, _ = _config(bench, ["--symmetric-policy", "on"])
    assert config.symmetric_policy and config.net_arch == (256, 256)


@pytest.mark.parametrize("argv", [["--net-arch", "256,x"], ["--net-arch", "0"], ["--symmetric-policy", "yes"]])
def test_bad_learner_flags_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        _bench().parser().parse_args(["--env", OTHELLO, *argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.startswith("error: ") and f"argument {argv[0]}" in err and err.count("\n") == 1, err  # one line


def test_othello_defaults_are_the_measured_recipe():
    """Othello's DAgger preset and bench defaults: the symmetric policy, rollouts against random, 50 MCTS-100
    games and 12,000 alphabeta:2 queries in 6 rounds with the expected regret weighted 30 and the lookahead planes
    under the MLP (the 3-seed runs of bench_results/dagger_othello_s9.jsonl)."""
    config, n_demo, steps = _config(_bench(), [])
    assert (config.expert, config.rounds, config.train_opponent) == ("alphabeta:2", 6, "random")
    assert config.symmetric_policy and config.regret_weight == 30.0 and (n_demo, steps) == (50, 12_000)
    assert config.features_extractor == "othello_lookahead"


def test_an_expert_without_move_values_needs_the_regret_off():
    from genplay.errors import GenplayError

    with pytest.raises(GenplayError, match=r"^--expert: 'mcts:100' gives no move values for --regret-weight"):
        _config(_bench(), ["--expert", "mcts:100"])
    config, _, _ = _config(_bench(), ["--expert", "mcts:100", "--regret-weight", "0"])
    assert config.expert == "mcts:100" and config.regret_weight == 0.0


def test_othello_alphabeta_oracle_is_accepted():
    config, _, _ = _config(_bench(), ["--expert", "alphabeta:2"])
    assert config.expert == "alphabeta:2"


@pytest.mark.parametrize("spec", ["alphabeta:x", "alphabeta:0", "mcts:", "solver"])
def test_bad_oracle_spec_is_refused_before_any_game(spec):
    from genplay.errors import GenplayError

    with pytest.raises(GenplayError, match=r"^--expert: .*"):
        _config(_bench(), ["--expert", spec])


def test_bad_oracle_spec_is_one_error_line(capsys):
    bench = _bench()
    with pytest.raises(SystemExit) as exc:
        bench.run_main(lambda: bench.main(["--env", OTHELLO, "--expert", "alphabeta:11"]))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("error: --expert: ") and err.count("\n") == 1


def test_bench_flags_reach_the_config_and_a_bad_one_is_one_error_line(capsys):
    bench = _bench()
    argv = ["--features-extractor", "board_cnn", "--cnn-channels", "16", "--soft-temperature", "0.05", "--net-arch",
            "none", "--expert", "alphabeta:2"]  # fmt: skip
    config, _, _ = _config(bench, argv)
    assert (config.features_extractor, config.cnn_channels, config.soft_temperature) == ("board_cnn", 16, 0.05)
    assert config.net_arch == ()
    with pytest.raises(SystemExit) as exc:
        bench.run_main(lambda: bench.main(["--env", OTHELLO, "--features-extractor", "resnet"]))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("error: --features-extractor: ") and err.count("\n") == 1
