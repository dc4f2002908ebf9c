"""``genplay text train|sample|evaluate`` end to end on a tiny corpus, and its one-line errors."""

from __future__ import annotations

import json

import pytest

from genplay.cli import main

CORPUS = " ".join(
    f"the {a} {b} sat on the {c} mat ." for a in ("red", "big", "old") for b in ("cat", "dog") for c in ("blue", "new")
)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(CORPUS * 3, encoding="utf-8")
    return path


def test_train_sample_evaluate(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["text", "train", "--corpus", str(corpus), "--out", str(out), "--seq-len", "10", "--mle-epochs", "2"]
    assert main([*args, "--adv-steps", "2", "--n-rollouts", "2", "--disc-pretrain-steps", "2", "--quiet"]) == 0
    assert {p.name for p in out.iterdir()} >= {"model.pt", "vocab.json", "config.json"}
    capsys.readouterr()
    assert main(["text", "sample", "--model", str(out), "--n", "3", "--top-k", "5"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert main(["text", "evaluate", "--model", str(out), "--corpus", str(corpus), "--n-samples", "20"]) == 0
    res = json.loads(capsys.readouterr().out)["results"][0]
    assert 0.0 <= res["bleu2"] <= 1.0 and 0.0 <= res["self_bleu2"] <= 1.0


def test_default_is_mle_alone(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["text", "train", "--corpus", str(corpus), "--out", str(out), "--seq-len", "10", "--mle-epochs", "1"]
    assert main([*argv, "--quiet"]) == 0  # fails with SeqGAN steps by default (100 before the oracle frontier)
    meta = json.loads((out / "config.json").read_text())
    assert meta["adv_steps"] == 0 and not [row for row in meta["history"] if row["phase"] == "adv"]
    assert "0 adversarial steps" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["text", "train", "--corpus", "missing.txt", "--out", "x"], "missing.txt: corpus: expected a readable"),
        (["text", "train", "--out", "x", "--n-rollouts", "-1"], "--n-rollouts: expected an integer >= 0"),
        (["text", "train", "--out", "x", "--reward-form", "nope"], "--reward-form: expected one of"),
        (["text", "train", "--out", "x", "--disc-loss", "nope"], "--disc-loss: expected one of"),
        (["text", "sample", "--model", "nowhere"], "model.pt: file: expected a model written by"),
    ],
)
def test_bad_input_is_one_error_line(argv, expected, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and expected in err and len(err.splitlines()) == 1


def test_corrupt_model_file_is_one_error_line(tmp_path, capsys):
    (tmp_path / "model.pt").write_bytes(b"not a torch file")
    assert main(["text", "sample", "--model", str(tmp_path)]) == 2
    assert "model.pt: not a readable genplay state file" in capsys.readouterr().err
