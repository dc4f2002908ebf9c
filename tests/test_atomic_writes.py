"""Writes own their target: atomic writes never replace a device, directory or FIFO, and name the target on failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genplay.cli import main
from genplay.errors import GenplayError
from genplay.generative.core import atomic_write


def test_atomic_write_refuses_a_path_that_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in (fifo, tmp_path):
        with pytest.raises(GenplayError, match="not a regular file"):
            atomic_write(target, lambda tmp: Path(tmp).write_text("x"))
    assert fifo.exists() and not fifo.is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temp file left behind


def test_atomic_write_replaces_a_regular_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    atomic_write(target, lambda tmp: Path(tmp).write_text("new"))
    assert target.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


def test_write_errors_name_the_target_not_the_temp_file(tmp_path):
    def fail(tmp: str) -> None:
        raise OSError(28, "No space left on device", tmp)

    with pytest.raises(OSError) as info:
        atomic_write(tmp_path / "out.npz", fail)
    assert info.value.filename == str(tmp_path / "out.npz")


def test_demos_collect_refuses_a_fifo_as_out(tmp_path, capsys):
    fifo = tmp_path / "out.npz"  # a FIFO, not /dev/full: with the check off, the rename would replace it
    os.mkfifo(fifo)
    argv = ["demos", "collect", "--env", "CartPole-v1", "--policy", "random", "--n-episodes", "1", "--out", str(fifo)]
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error:") and "\n" not in err
    assert fifo.exists() and not fifo.is_file()


@pytest.mark.parametrize(
    "argv",
    [
        ["demos", "collect", "--env", "CartPole-v1", "--policy", "random", "--n-episodes", "1", "--out", "{out}"],
        ["synth", "import", "{missing}", "--out", "{out}"],
    ],
)
def test_an_existing_output_is_kept_without_force(tmp_path, capsys, argv):
    out = tmp_path / "out.npz"
    out.write_bytes(b"precious")
    fill = {"{out}": str(out), "{missing}": str(tmp_path / "no-dataset")}
    argv = [fill.get(a, a) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists; pass --force" in err and "\n" not in err
    assert out.read_bytes() == b"precious"
    if argv[0] == "demos":
        assert main([*argv, "--force"]) == 0 and out.read_bytes() != b"precious"


def test_an_output_file_that_is_a_fifo_is_refused_before_any_work(tmp_path, capsys):
    """images evaluate checks --out first: on a FIFO it used to evaluate for minutes, then block on the write."""
    from genplay.generative.core.rundir import RunDirError, check_file_writable

    fifo = tmp_path / "metrics.json"
    os.mkfifo(fifo)
    with pytest.raises(RunDirError, match="not a regular file"):
        check_file_writable(fifo)
    assert main(["images", "evaluate", "--run", str(tmp_path / "no-run"), "--out", str(fifo)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --out:") and "not a regular file" in err and "\n" not in err
    assert fifo.exists() and not fifo.is_file()


def test_music_sample_keeps_earlier_samples_without_force(tmp_path, capsys):
    import numpy as np

    from genplay.generative.music.data import Rolls
    from genplay.generative.music.trainer import MusicGANConfig, build_generator, save_generator

    config = MusicGANConfig(z_dim=2, gen_width=4, critic_width=2, device="cpu")
    rolls = Rolls(np.zeros((1, 4, 64, 10), bool), 40, 1)
    save_generator(tmp_path / "run" / "generator.state", config, build_generator(config, 10), rolls)
    out = tmp_path / "samples"
    out.mkdir()
    (out / "sample_000.mid").write_bytes(b"precious")
    argv = ["music", "sample", "--run", str(tmp_path / "run"), "--out", str(out), "--n", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "sample_000.mid: already exists; pass --force" in err and "\n" not in err
    assert (out / "sample_000.mid").read_bytes() == b"precious"
    assert main([*argv, "--force"]) == 0 and (out / "sample_000.mid").read_bytes() != b"precious"
