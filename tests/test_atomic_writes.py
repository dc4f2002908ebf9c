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
