"""``scripts/bench_synth.py``: its flags are checked where they enter, and the board-game path runs end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bench_synth.py"
ENV = {**os.environ, "XDG_RUNTIME_DIR": "/tmp"}


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=ENV, cwd=cwd)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--env", "NoSuchEnv-v0"], "--env: unknown env id"),
        (["--n-demo", "0"], "--n-demo: must be > 0"),
        (["--temperature", "-1"], "--temperature: must be > 0"),
        (["--temperature", "inf"], "--temperature: must be a finite number"),
        (["--threshold", "nan"], "--threshold: must be a finite number"),
        (["--gail-seeds", "-1"], "--gail-seeds: must be >= 0"),
        (["--opponent", "mcts:3"], "--opponent: only for board games"),
        (["--env", "genplay/ConnectFour-v0", "--opponent", "bogus"], "--opponent: opponent: unknown bot spec"),
    ],
)
def test_bad_flags_are_one_error_line(args, needle, monkeypatch, capsys):
    """Each bad flag ends ``main`` with one error line and exit code 2 before anything is built; in-process
    (a subprocess per case cost ~3 s of imports each), the script's own process runs in the end-to-end test."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import bench_synth

    monkeypatch.setattr(sys, "argv", [str(SCRIPT), *args])
    with pytest.raises(SystemExit) as exc:
        bench_synth.main()
    lines = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(lines) == 1 and needle in lines[0], lines


@pytest.mark.slow
def test_connect_four_warm_start_runs_end_to_end(tmp_path):
    """A tiny connect-four run: bot demos, masked GAIL+BC generator, its realism scorer, scored synthesis,
    both PPO arms, the few-demos GAIL pair, held-out AUCs, the plot and one JSON line."""
    proc = _run(
        "--env", "genplay/ConnectFour-v0", "--seeds", "1", "--gail-seeds", "1", "--n-demo", "4",
        "--gen-timesteps", "1024", "--n-synth", "8", "--budget", "2048", "--gail-budget", "1024",
        "--eval-episodes", "4", "--eval-every", "2048", "--opponent", "random", "--scorer-steps", "30",
        "--ref-episodes", "4", "--scorer-expert-games", "4", "--scorer-random-episodes", "4", "--scorer-width", "64",
        "--run-dir", str(tmp_path / "runs"), "--plot", str(tmp_path / "plot"), "--out", str(tmp_path / "out.jsonl"),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line == json.loads((tmp_path / "out.jsonl").read_text())
    assert line["setup"]["opponent"] == "random" and line["synth_episodes"] == 8
    assert len(line["steps_to_threshold_scratch"]) == len(line["steps_to_threshold_warm"]) == 1
    assert 0 <= line["realism_auc_expert_vs_random"] <= 1 and len(line["gail_normalized_real2_plus_synth"]) == 1
    assert line["realism_auc_unseen_negative"] == "weak_bot" and 0 <= line["realism_auc_expert_vs_unseen"] <= 1
    assert line["scorer_config"]["steps"] == 30 and line["reference_episodes"]["expert"] == 4
    assert len(line["bc_only_return_per_seed"]) == len(line["bc_only_meets_threshold"]) == 1
    assert Path(line["plot"]).is_file()
