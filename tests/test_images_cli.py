"""``genplay images train|sample|evaluate``: one subprocess run as a user runs it, the rest in-process (faster)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from genplay.cli import main

pytestmark = pytest.mark.slow  # every test reads the run of one subprocess `genplay images train`


@pytest.fixture
def cli(capsys):
    """Run ``genplay images ...`` in this process; returns (exit code, stdout, stderr)."""

    def run(*args) -> tuple[int, str, str]:
        code = main(["images", *map(str, args)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _one_error_line(result: tuple[int, str, str], needle: str) -> None:
    code, _, err = result
    assert code == 2, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("images") / "run"
    cmd = [sys.executable, "-m", "genplay", "images", "train", "--out", str(out), "--model", "cgan"]
    cmd += ["--steps", "20", "--base-channels", "8", "--quiet"]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "XDG_RUNTIME_DIR": "/tmp"}, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "trained cgan on digits for 20 steps" in proc.stdout
    return out


def test_train_writes_the_run(run_dir):
    for name in ("checkpoint.pt", "generator.pt", "model.json", "history.json", "samples.png"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]


def test_sample_grid_and_labelled_npz_reload_as_a_dataset(run_dir, tmp_path, cli):
    npz = tmp_path / "extra.npz"
    code, _, err = cli(
        "sample", "--run", run_dir, "--n", 24, "--labels", 2, 5, "--out", tmp_path / "g.png", "--npz", npz
    )
    assert code == 0, err
    with np.load(npz) as f:
        assert f["images"].shape == (24, 1, 8, 8) and f["images"].dtype == np.uint8
        assert f["labels"].tolist() == [2, 5] * 12
    assert (tmp_path / "g.png").is_file()
    code, _, err = cli(
        "train", "--out", tmp_path / "r2", "--dataset", npz, "--steps", 2, "--base-channels", 4, "--quiet"
    )
    assert code == 0, err


def test_evaluate_writes_metrics_json(run_dir, cli):
    code, out, err = cli("evaluate", "--run", run_dir, "--classifier-steps", 50)
    assert code == 0, err
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == json.loads(out.strip().splitlines()[-1])
    keys = {"classifier_fid", "classifier_is", "precision", "recall", "label_accuracy", "real_vs_real_fid"}
    assert keys <= set(metrics) and metrics["model"] == "cgan"


def test_bad_input_is_one_error_line(run_dir, tmp_path, cli):
    _one_error_line(cli("train", "--out", run_dir, "--steps", 1), "--out")
    _one_error_line(cli("train", "--out", tmp_path / "x", "--model", "vae"), "--model")
    _one_error_line(cli("train", "--out", tmp_path / "x", "--dataset", tmp_path / "no.npz"), "--dataset")
    _one_error_line(cli("sample", "--run", tmp_path, "--n", 3), "--run")
    _one_error_line(cli("sample", "--run", run_dir, "--labels", 11), "--labels")
    _one_error_line(cli("evaluate", "--run", run_dir, "--classifier-steps", 0), "--classifier-steps")


def test_train_refuses_a_run_dir_another_run_is_writing(run_dir, cli):
    """A run in progress holds the run dir's lock: a resume into it stops with one line naming the holder."""
    from genplay.generative.core.rundir import RunDirLock

    with RunDirLock(run_dir):
        resume = cli("train", "--out", run_dir, "--resume", "--steps", 21, "--base-channels", 8)
    _one_error_line(resume, "another run (pid")
