"""The benchmark scripts answer bad input as the CLI does: one ``error:`` line and exit 2, checked before
any work (issue 28's hostile trial: a traceback, or minutes of expert training before the refusal)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import benchlib  # noqa: E402

from genplay.errors import GenplayError  # noqa: E402


def test_run_main_turns_a_genplay_error_into_one_line(capsys):
    def main() -> None:
        raise GenplayError("/nonexistent: no trained policy here\n(expected a run dir)")

    with pytest.raises(SystemExit) as info:
        benchlib.run_main(main)
    assert info.value.code == 2
    assert capsys.readouterr().err == "error: /nonexistent: no trained policy here (expected a run dir)\n"
    with pytest.raises(SystemExit) as info:
        benchlib.run_main(lambda: None)
    assert info.value.code == 0


@pytest.mark.parametrize(
    ("script", "argv", "flag"),
    [
        ("bench_gail", ["--gen-timesteps", "-1"], "--gen-timesteps"),
        ("bench_gail", ["--n-demo", "0"], "--n-demo"),
        ("bench_demo", ["--n-demo", "-3"], "--n-demo"),
        ("bench_music", ["--steps", "0"], "--steps"),
        ("bench_images", ["--steps", "-1"], "--steps"),
    ],
)
def test_a_bad_count_is_refused_before_any_work(script, argv, flag, monkeypatch, capsys):
    module = __import__(script)
    monkeypatch.setattr(sys, "argv", [f"{script}.py", *argv])
    with pytest.raises(SystemExit) as info:
        module.main()
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and err.startswith("error:") and flag in err and "\n" not in err
