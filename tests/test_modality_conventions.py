"""One set of trainer conventions across images, music and text (issues 27 and 28).

Each modality's ``train`` holds a lock on ``--out``, refuses a directory that holds a run
without ``--resume``/``--force``, treats ``--resume`` without a checkpoint as an error,
leaves the directory as it found it when the first step fails, stops on a NaN loss keeping
the last good checkpoint, and writes checksummed state files. Bad values are one ``error:``
line with exit 2. Runs are tiny (a few steps, a few channels) and in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import nan_state_bytes

from genplay.cli import main
from genplay.generative.core.rundir import RunDirLock
from genplay.generative.core.state_io import load_state, save_state

CORPUS = " ".join(
    f"the {a} {b} sat on the {c} mat ." for a in ("red", "big", "old") for b in ("cat", "dog") for c in ("blue", "new")
)
IMAGES = ["images", "train", "--steps", "2", "--base-channels", "4", "--batch-size", "8", "--quiet"]
MUSIC = ["music", "train", "--steps", "2", "--batch-size", "4", "--z-dim", "4", "--gen-width", "8"]
MUSIC += ["--critic-width", "4", "--n-critic", "1", "--limit", "4", "--n-eval", "8", "--quiet"]
TEXT = ["text", "train", "--seq-len", "10", "--mle-epochs", "1", "--adv-steps", "2", "--n-rollouts", "2"]
TEXT += ["--disc-pretrain-steps", "2", "--batch-size", "16", "--quiet"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text(CORPUS * 3, encoding="utf-8")
    return path


def train_args(kind: str, out: Path, corpus: Path) -> list[str]:
    if kind == "images":
        return [*IMAGES, "--out", str(out)]
    if kind == "music":
        return [*MUSIC, "--out", str(out)]
    return [*TEXT, "--corpus", str(corpus), "--out", str(out)]


def one_error(capsys, argv: list[str], needle: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], (code, err)
    return lines[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, corpus) -> dict[str, Path]:
    """One finished tiny run per modality."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for kind in ("images", "music", "text"):
        out[kind] = root / kind
        assert main(train_args(kind, out[kind], corpus)) == 0, kind
    return out


KINDS = ["images", "music", "text"]
CHECKPOINT = {"images": "checkpoint.pt", "music": "checkpoint.pt", "text": "checkpoint.pt"}


@pytest.mark.parametrize("kind", KINDS)
def test_every_run_writes_a_checksummed_checkpoint(runs, kind):
    state = load_state(runs[kind] / CHECKPOINT[kind])
    assert state  # a state_io file: JSON + safetensors + sha256
    assert (runs[kind] / ".lock").read_text().strip() != ""  # the lock file names its last holder


@pytest.mark.parametrize("kind", KINDS)
def test_a_locked_run_dir_is_refused(runs, kind, corpus, capsys):
    with RunDirLock(runs[kind]):
        one_error(capsys, [*train_args(kind, runs[kind], corpus), "--resume"], "another run (pid")


@pytest.mark.parametrize("kind", KINDS)
def test_a_run_dir_with_a_run_is_refused_without_resume_or_force(runs, kind, corpus, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in runs[kind].iterdir()}
    one_error(capsys, train_args(kind, runs[kind], corpus), "already holds a run")
    assert {p.name: p.stat().st_mtime_ns for p in runs[kind].iterdir()} == before


@pytest.mark.parametrize("kind", KINDS)
def test_resume_without_a_checkpoint_is_an_error_and_touches_nothing(tmp_path, kind, corpus, capsys):
    out = tmp_path / "fresh"
    one_error(capsys, [*train_args(kind, out, corpus), "--resume"], "no checkpoint.pt to continue from")
    assert not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    one_error(capsys, [*train_args(kind, out, corpus), "--resume"], "drop --resume")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_flipped_byte_in_the_checkpoint_is_refused_on_resume(tmp_path, runs, kind, corpus, capsys):
    out = tmp_path / "copy"
    out.mkdir()
    for p in runs[kind].iterdir():
        (out / p.name).write_bytes(p.read_bytes())
    raw = bytearray((out / "checkpoint.pt").read_bytes())
    i = raw.index(b"tensors.safetensors") + 300
    raw[i] ^= 0x01
    (out / "checkpoint.pt").write_bytes(bytes(raw))
    args = [*train_args(kind, out, corpus), "--resume"]
    if kind == "images":
        args += ["--steps", "3"]
    one_error(capsys, args, "checkpoint.pt")


def test_a_flipped_byte_in_a_text_model_is_refused(tmp_path, runs, capsys):
    for p in runs["text"].iterdir():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    raw = bytearray((tmp_path / "model.pt").read_bytes())
    raw[raw.index(b"tensors.safetensors") + 200] ^= 0x01
    (tmp_path / "model.pt").write_bytes(bytes(raw))
    one_error(capsys, ["text", "sample", "--run", str(tmp_path)], "model.pt")


def test_nonfinite_weights_in_a_loaded_state_are_refused(tmp_path, runs, capsys):
    for p in runs["images"].iterdir():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    path = tmp_path / "generator.pt"
    path.write_bytes(nan_state_bytes(path.read_bytes()))  # a valid checksum over bad weights
    one_error(capsys, ["images", "sample", "--run", str(tmp_path), "--n", "4"], "NaN or inf")


def _nan_from(step: int, real):
    """A stand-in for ``adversarial_round`` that returns a NaN loss from ``step`` on."""
    calls = {"n": 0}

    def fake(**kwargs):
        calls["n"] += 1
        stats = real(**kwargs)
        return {**stats, "d_loss": float("nan")} if calls["n"] >= step else stats

    return fake


@pytest.mark.parametrize("kind", ["images", "music"])
def test_a_nan_loss_stops_the_run_and_keeps_the_last_checkpoint(tmp_path, kind, corpus, capsys, monkeypatch):
    import importlib

    module = importlib.import_module(f"genplay.generative.{kind}.trainer")
    monkeypatch.setattr(module, "adversarial_round", _nan_from(3, module.adversarial_round))
    out = tmp_path / "run"
    one_error(capsys, [*train_args(kind, out, corpus), "--steps", "4", "--checkpoint-every", "2"], "step 3: d_loss")
    assert load_state(out / "checkpoint.pt")["step"] == 2  # the last good state, untouched
    assert not any((out / name).exists() for name in ("generator.pt", "generator.state"))


def test_a_nan_text_loss_stops_the_run_and_keeps_the_mle_checkpoint(tmp_path, corpus, capsys, monkeypatch):
    from genplay.generative.text import seqgan

    real = seqgan.policy_gradient_loss
    monkeypatch.setattr(seqgan, "policy_gradient_loss", lambda *a: real(*a) * float("nan"))
    out = tmp_path / "run"
    one_error(capsys, train_args("text", out, corpus), "adversarial step 1: pg_loss is nan")
    state = load_state(out / "checkpoint.pt")
    assert state["done"]["mle_epochs"] == 1 and state["done"]["adv_steps"] == 0
    assert not (out / "model.pt").exists()


@pytest.mark.parametrize("kind", ["images", "music"])
def test_a_failed_first_step_leaves_the_directory_as_it_was(tmp_path, kind, corpus, capsys, monkeypatch):
    import importlib

    module = importlib.import_module(f"genplay.generative.{kind}.trainer")
    monkeypatch.setattr(module, "adversarial_round", _nan_from(1, module.adversarial_round))
    one_error(capsys, train_args(kind, tmp_path / "new", corpus), "step 1: d_loss")
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "keep.txt").write_text("x")
    one_error(capsys, train_args(kind, tmp_path / "old", corpus), "step 1: d_loss")
    assert [p.name for p in (tmp_path / "old").iterdir()] == ["keep.txt"]


@pytest.mark.slow
def test_resume_continues_the_step_count(tmp_path, corpus, capsys):
    out = tmp_path / "run"
    assert main(train_args("images", out, corpus)) == 0
    assert main([*train_args("images", out, corpus), "--resume", "--steps", "3"]) == 0
    assert load_state(out / "checkpoint.pt")["step"] == 3
    assert main([*train_args("music", tmp_path / "m", corpus)]) == 0
    assert main([*train_args("music", tmp_path / "m", corpus), "--resume", "--steps", "3"]) == 0
    assert load_state(tmp_path / "m" / "checkpoint.pt")["step"] == 3
    assert main([*train_args("text", tmp_path / "t", corpus)]) == 0
    assert main([*train_args("text", tmp_path / "t", corpus), "--resume", "--adv-steps", "3"]) == 0
    assert load_state(tmp_path / "t" / "checkpoint.pt")["done"]["adv_steps"] == 3
    assert main([*train_args("text", tmp_path / "t", corpus), "--force"]) == 0  # start over in it
    assert load_state(tmp_path / "t" / "checkpoint.pt")["done"]["adv_steps"] == 2
    capsys.readouterr()


def test_help_shows_effective_defaults(capsys):
    for argv in (["images", "train"], ["music", "train"], ["text", "train"], ["gail", "train"]):
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: None)" not in text, argv
    # images: the model's preset decides the learning rates; gail: the env's preset where it sets one
    with pytest.raises(SystemExit):
        main(["images", "train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(preset: dcgan/cgan 0.001, wgan-gp 0.0001)" in text and "(default: 3000)" in text
    with pytest.raises(SystemExit):
        main(["gail", "train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 8; preset: Pendulum 4)" in text  # --n-envs


def test_progress_lines_come_on_long_phases(tmp_path, corpus, capsys, monkeypatch):
    from genplay.generative.core import progress

    monkeypatch.setattr(progress.Heartbeat, "clock", staticmethod(iter(range(0, 10**6, 11)).__next__))  # 11 s a call
    for kind in KINDS:
        argv = [a for a in train_args(kind, tmp_path / kind, corpus) if a != "--quiet"]
        assert main(argv) == 0
    assert main(["images", "evaluate", "--run", str(tmp_path / "images"), "--classifier-steps", "3"]) == 0
    err = capsys.readouterr().err
    assert "images train: 1/2" in err and "music train: 1/2" in err and "metric classifier: 1/3" in err
    assert "text MLE (batches): 1/" in err and "text adversarial steps: 1/2" in err


# --------------------------------------------------------------------------- bad values, one line each


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, runs) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad")
    (root / "empty.npz").write_bytes(b"")
    empty_ckpt = root / "empty_ckpt"
    empty_ckpt.mkdir()
    (empty_ckpt / "checkpoint.pt").write_bytes(b"")
    neg = root / "neg_shape"
    neg.mkdir()
    for p in runs["images"].iterdir():
        (neg / p.name).write_bytes(p.read_bytes())
    meta = json.loads((neg / "model.json").read_text())
    (neg / "model.json").write_text(json.dumps({**meta, "image_shape": [1, -8, 8]}))
    pitch = root / "pitch200"
    pitch.mkdir()
    state = load_state(runs["music"] / "generator.state")
    state["meta"]["lowest_pitch"] = 200
    save_state(pitch / "generator.state", state)
    return {"root": str(root), "empty_npz": str(root / "empty.npz"), "empty_ckpt": str(empty_ckpt)}


BAD = [
    # images train
    ("images-lr-nan", [*IMAGES, "--lr-generator", "nan"], "--lr-generator"),
    ("images-lr-negative", [*IMAGES, "--lr-critic", "-1e-3"], "--lr-critic"),
    ("images-lr-inf", [*IMAGES, "--lr-critic", "inf"], "--lr-critic"),
    ("images-lr-huge", [*IMAGES, "--lr-generator", "1e30"], "--lr-generator"),
    ("images-penalty-nan", [*IMAGES, "--penalty-weight", "nan"], "--penalty-weight"),
    ("images-beta1", [*IMAGES, "--beta1", "1.5"], "--beta1"),
    ("images-seed-negative", [*IMAGES, "--seed", "-1"], "--seed"),
    ("images-threads-zero", [*IMAGES, "--threads", "0"], "--threads"),
    ("images-log-every-zero", [*IMAGES, "--log-every", "0"], "--log-every"),
    ("images-device-bogus", [*IMAGES, "--device", "bogus"], "--device"),
    ("images-device-absent", [*IMAGES, "--device", "cuda:3"], "--device"),
    ("images-channels-huge", [*IMAGES, "--base-channels", "100000"], "--base-channels"),
    ("images-empty-dataset", [*IMAGES, "--dataset", "{empty_npz}"], "--dataset"),
    ("images-empty-checkpoint", [*IMAGES, "--out", "{empty_ckpt}", "--resume"], "checkpoint.pt"),
    ("images-sample-nrow-zero", ["images", "sample", "--run", "{images}", "--nrow", "0"], "--nrow"),
    ("images-sample-n-huge", ["images", "sample", "--run", "{images}", "--n", "10000000"], "--n"),
    ("images-negative-shape", ["images", "sample", "--run", "{root}/neg_shape"], "image_shape"),
    ("images-sample-out-device", ["images", "sample", "--run", "{images}", "--out", "/dev/null"], "--out"),
    # music
    ("music-gen-width-text", [*MUSIC, "--gen-width", "1e6"], "--gen-width"),
    ("music-gen-width-huge", [*MUSIC, "--gen-width", "1000000"], "--gen-width"),
    ("music-lowest-pitch-200", ["music", "sample", "--run", "{root}/pitch200", "--out", "{root}/x"], "lowest_pitch"),
    ("music-sample-n-text", ["music", "sample", "--run", "{music}", "--out", "{root}/x", "--n", "1e7"], "--n"),
    ("music-sample-n-huge", ["music", "sample", "--run", "{music}", "--out", "{root}/x", "--n", "10000000"], "--n"),
    ("music-resume-empty", [*MUSIC, "--out", "{empty_ckpt}", "--resume"], "checkpoint.pt"),
    # text
    ("text-device-bogus", [*TEXT, "--device", "bogus"], "--device"),
    ("text-seq-len-huge", [*TEXT, "--seq-len", "1000000000"], "--seq-len"),
    ("text-hidden-dim-huge", [*TEXT, "--hidden-dim", "1000000"], "--hidden-dim"),
    ("text-corpus-dev-zero", [*TEXT, "--corpus", "/dev/zero"], "/dev/zero"),
    ("text-evaluate-n-zero", ["text", "evaluate", "--run", "{text}", "--n-samples", "0"], "--n-samples"),
    ("text-temperature-zero", ["text", "sample", "--run", "{text}", "--temperature", "0"], "--temperature"),
    ("text-temperature-negative", ["text", "sample", "--run", "{text}", "--temperature", "-1"], "--temperature"),
    ("text-temperature-nan", ["text", "sample", "--run", "{text}", "--temperature", "nan"], "--temperature"),
    ("text-top-k-huge", ["text", "sample", "--run", "{text}", "--top-k", "100000000"], "--top-k"),
    ("text-resume-empty", [*TEXT, "--out", "{empty_ckpt}", "--resume"], "checkpoint.pt"),
]


@pytest.mark.parametrize("name, argv, needle", BAD, ids=[b[0] for b in BAD])
def test_bad_values_are_one_error_line(name, argv, needle, runs, bad_files, tmp_path, capsys):
    ctx = {**bad_files, **{k: str(v) for k, v in runs.items()}}
    argv = [a.format(**ctx) for a in argv]
    if "--out" not in argv and argv[1] == "train":
        argv += ["--out", str(tmp_path / "out")]
    one_error(capsys, argv, needle.format(**ctx))


@pytest.mark.parametrize("content", [b"", b"garbage, not an npz", b"PK\x03\x04truncated"])
def test_a_damaged_chorale_cache_is_one_error_line(tmp_path, content, capsys, monkeypatch):
    monkeypatch.setenv("GENPLAY_CACHE_DIR", str(tmp_path))
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "chorales_v2_4.npz").write_bytes(content)
    one_error(capsys, [*MUSIC, "--out", str(tmp_path / "run")], "unreadable chorale cache")
    assert not (tmp_path / "run").exists()


def test_a_chorale_cache_with_impossible_pitches_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENPLAY_CACHE_DIR", str(tmp_path))
    (tmp_path / "music").mkdir()
    windows = np.zeros((3, 4, 64, 10), bool)
    with open(tmp_path / "music" / "chorales_v2_4.npz", "wb") as f:
        np.savez(f, windows=windows, lowest_pitch=200, n_songs=1, version=2)
    one_error(capsys, [*MUSIC, "--out", str(tmp_path / "run")], "outside MIDI")


def test_images_sample_does_not_overwrite_without_force(runs, tmp_path, capsys):
    grid = tmp_path / "grid.png"
    grid.write_bytes(b"mine")
    one_error(capsys, ["images", "sample", "--run", str(runs["images"]), "--n", "4", "--out", str(grid)], "--force")
    assert grid.read_bytes() == b"mine"
    assert main(["images", "sample", "--run", str(runs["images"]), "--n", "4", "--out", str(grid), "--force"]) == 0
    assert grid.read_bytes()[:4] == b"\x89PNG"


def test_deprecated_run_spellings_still_work(runs, tmp_path, capsys):
    assert main(["music", "sample", str(runs["music"]), "--out", str(tmp_path / "m"), "--n", "1"]) == 0
    assert main(["text", "sample", "--model", str(runs["text"]), "--n", "2"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) >= 3  # one MIDI path + PNG, two sentences
    one_error(capsys, ["music", "sample", str(runs["music"]), "--run", str(tmp_path), "--out", str(tmp_path)], "twice")
