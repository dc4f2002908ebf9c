"""scripts/bench_text.py: the oracle recipe fills only what is left out; bad flags are one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_text  # noqa: E402


def test_oracle_recipe_fills_what_is_left_out():
    args, config = bench_text.parse_settings(["--task", "oracle"])
    assert (args.max_mle_epochs, args.max_adv_steps, args.minutes) == (30, 150, 60.0)
    assert (config.reward_form, config.baseline, config.n_rollouts) == ("positive", False, 4)
    args, config = bench_text.parse_settings(["--task", "oracle", "--baseline", "true", "--max-adv-steps", "7"])
    assert config.baseline and config.reward_form == "positive" and args.max_adv_steps == 7
    _, config = bench_text.parse_settings(["--task", "pydoc"])
    assert config.baseline and config.reward_form == "logit"  # the recipe is the oracle's only


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--minutes", "nan"], "--minutes"),
        (["--mle-fraction", "1"], "--mle-fraction"),
        (["--temperatures", "0"], "--temperatures"),
        (["--temperatures"], "--temperatures"),
        (["--max-adv-steps", "0"], "--max-adv-steps"),
        (["--gen-lr", "-1"], "--gen-lr"),
        (["--disc-steps", "-1"], "--disc-steps"),
    ],
)
def test_bad_flags_are_one_error_line(argv, flag, capsys):
    with pytest.raises(SystemExit) as exc:
        bench_text.parse_settings(["--task", "oracle", *argv])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and flag in err, err
