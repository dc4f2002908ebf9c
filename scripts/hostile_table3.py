"""The hostile trial's cases, third part: the image, music and text GANs, concurrency and signals."""

from __future__ import annotations

from hostile_cases import (
    Case,
    copy,
    crafted,
    damaged,
    exists,
    interrupt,
    kill_then_resume,
    music_cache,
    node,
    rival,
    run_copy,
)
from hostile_fixtures import ENV, IMG_TINY, MUS_TINY, TXT_TINY
from hostile_table import IMG, MUS, TRAIN, TXT, C


def images_cases() -> list[Case]:
    i = "images"
    sample = ("images", "sample", "--n", "4", "--out", "{case}/new.png")
    named = {
        "--lr-generator=nan": "--lr-generator", "--lr-critic=nan": "--lr-critic", "--lr-generator=-1": "--lr-generator",
        "--lr-critic=-1": "--lr-critic", "--lr-generator=inf": "--lr-generator", "--beta1=1.5": "--beta1",
        "--beta2=1.5": "--beta2", "--seed=-1": "--seed", "--threads=0": "--threads", "--log-every=0": "--log-every",
        "--device=bogus": "--device", "--device=cuda:3": "--device", "--device=cuda": "--device",
        "--batch-size=0": "--batch-size",
        # NaN models saved with exit 0: a refusal up front, or a stop naming the step (nothing written)
        "--lr-critic=inf": "--lr-critic", "--penalty-weight=nan": "--penalty-weight", "--lr-generator=1e30": "",
    }  # fmt: skip
    out = [C(f"images-train{k}", i, [*IMG, *k.split("=", 1)], v) for k, v in named.items()]

    def empty_npz(cdir, fill):
        import numpy as np

        np.savez(cdir / "empty.npz", images=np.zeros((0, 8, 8), np.uint8), labels=np.zeros(0, np.int64))
        return {}

    out += [
        C(
            "images-train-empty-dataset",
            i,
            [*IMG[:4], "--dataset", "{case}/empty.npz", *IMG[6:]],
            "empty.npz",
            setup=empty_npz,
        ),
        C("images-train-dataset-pickle", i, [*IMG[:4], "--dataset", "{pickle}", *IMG[6:]], "{pickle}"),
        C("images-train-dataset-dev-zero", i, [*IMG[:4], "--dataset", "/dev/zero", *IMG[6:]], "/dev/zero", timeout=60),
        C(
            "images-resume-empty-checkpoint",
            i,
            ["images", "train", "--out", "{case}/run", "--resume", *IMG_TINY],
            "checkpoint.pt",
            setup=run_copy("img", damaged("checkpoint.pt", "empty")),
        ),
        C(
            "images-resume-without-checkpoint",
            i,
            ["images", "train", "--out", "{case}/run", "--resume", *IMG_TINY],
            "checkpoint",
            setup=run_copy("img", damaged("checkpoint.pt", "remove")),
            precious=("{case}/run/generator.pt",),
        ),
        C(
            "images-resume-flip-checkpoint",
            i,
            ["images", "train", "--out", "{case}/run", "--resume", *IMG_TINY],
            "checkpoint.pt",
            setup=run_copy("img", damaged("checkpoint.pt", "flip")),
        ),
        C(
            "images-resume-pickled-checkpoint",
            i,
            ["images", "train", "--out", "{case}/run", "--resume", *IMG_TINY],
            "checkpoint.pt",
            setup=lambda cdir, fill: run_copy("img", damaged("checkpoint.pt", "pickle", fill["marker"]))(cdir, fill),
        ),
        C(
            "images-train-into-existing-run",
            i,
            ["images", "train", "--out", "{case}/run", *IMG_TINY],
            "already holds a run",
            setup=copy("img", "run"),
            precious=("{case}/run/generator.pt",),
        ),
        C("images-sample-nrow-0", i, [*sample, "--run", "{img}", "--nrow", "0"], "--nrow"),
        C("images-sample-n-huge", i, [*sample, "--run", "{img}", "--n", "1000000000"], "--n"),
        C("images-sample-labels-out-of-range", i, [*sample, "--run", "{img}", "--labels", "99"], "--labels"),
        C(
            "images-sample-negative-image-shape",
            i,
            [*sample, "--run", "{case}/run"],
            "image_shape",
            setup=run_copy(
                "img",
                lambda r: (r / "model.json").write_text(
                    (r / "model.json").read_text().replace('"image_shape": [\n    1,', '"image_shape": [\n    -1,')
                ),
            ),
        ),
        C(
            "images-sample-ignores-state-image-shape",  # model.json says how to build: this copy is unused
            i,
            [*sample, "--run", "{case}/run"],
            expect="ok",
            setup=run_copy("img", crafted("generator.pt", values={"meta.image_shape": [-1, 8, 8]})),
        ),
        C(
            "images-sample-empty-generator",
            i,
            [*sample, "--run", "{case}/run"],
            "generator.pt",
            setup=run_copy("img", damaged("generator.pt", "empty")),
        ),
        C(
            "images-sample-nan-generator",
            i,
            [*sample, "--run", "{case}/run"],
            "generator.pt",
            setup=run_copy("img", crafted("generator.pt", nan=("weights.project.0.weight",))),
        ),
        C(
            "images-sample-flip-generator",
            i,
            [*sample, "--run", "{case}/run"],
            "generator.pt",
            setup=run_copy("img", damaged("generator.pt", "flip")),
        ),
        C(
            "images-evaluate-nan-generator",
            i,
            ["images", "evaluate", "--run", "{case}/run", "--out", "{case}/new.json"],
            "generator.pt",
            setup=run_copy("img", crafted("generator.pt", nan=("weights.project.0.weight",))),
        ),
    ]
    for flag, v in (("--n-critic", "0"), ("--ema-decay", "2"), ("--z-dim", "1e30"), ("--steps", "nan"),
                    ("--base-channels", "99999999")):  # fmt: skip
        out.append(C(f"images-train{flag}={v}", "flags", [*IMG, flag, v], flag))
    out += [C(f"images-sample{f}={v}", "flags", [*sample, "--run", "{img}", f, v], f)
            for f, v in (("--seed", "nan"), ("--n", "-1"))]  # fmt: skip
    out += [
        C(
            f"images-evaluate{f}={v}",
            "flags",
            ["images", "evaluate", "--run", "{img}", "--out", "{case}/new.json", f, v],
            f,
        )
        for f, v in (("--classifier-steps", "-1"), ("--threads", "nan"), ("--aug-per-class", "0"))
    ]
    return out


def music_cases() -> list[Case]:
    m = "music"
    sample = ("music", "sample", "--out", "{case}/new")
    out = [
        C("music-cache-truncated", m, MUS, "chorales", setup=music_cache("truncate")),
        C("music-cache-garbage", m, MUS, "chorales", setup=music_cache("garbage")),
        C("music-cache-lowest-pitch-200", m, MUS, "0..127", setup=music_cache("lowest_pitch=200")),
        C(
            "music-state-lowest-pitch-200",
            m,
            [*sample, "--run", "{case}/run"],
            "lowest_pitch",
            setup=run_copy("mus", crafted("generator.state", values={"meta.lowest_pitch": 200})),
        ),
        C("music-gen-width-1e6", m, [*MUS, "--gen-width", "1000000"], "--gen-width", shared_cache=True),
        C("music-sample-n-1e7", m, [*sample, "--run", "{mus}", "--n", "10000000"], "--n"),
        C(
            "music-sample-nan-state",
            m,
            [*sample, "--run", "{case}/run"],
            "generator.state",
            setup=run_copy("mus", crafted("generator.state", nan=("weights.chords.net.0.weight",))),
        ),
        C(
            "music-sample-flip-state",
            m,
            [*sample, "--run", "{case}/run"],
            "generator.state",
            setup=run_copy("mus", damaged("generator.state", "flip")),
        ),
        C(
            "music-resume-without-checkpoint",
            m,
            ["music", "train", "--out", "{case}/run", "--resume", *MUS_TINY],
            "checkpoint",
            setup=run_copy("mus", damaged("checkpoint.pt", "remove")),
            precious=("{case}/run/generator.state",),
            shared_cache=True,
        ),
        C(
            "music-resume-flip-checkpoint",
            m,
            ["music", "train", "--out", "{case}/run", "--resume", *MUS_TINY],
            "checkpoint.pt",
            setup=run_copy("mus", damaged("checkpoint.pt", "flip")),
            shared_cache=True,
        ),
        C(
            "music-train-into-existing-run",
            m,
            ["music", "train", "--out", "{case}/run", *MUS_TINY],
            "already holds a run",
            setup=copy("mus", "run"),
            precious=("{case}/run/generator.state",),
            shared_cache=True,
        ),
    ]
    for flag, v in (("--steps", "nan"), ("--lr", "inf"), ("--beta1", "2"), ("--n-critic", "0"), ("--z-dim", "-1"),
                    ("--batch-size", "99999999999")):  # fmt: skip
        out.append(C(f"music-train{flag}={v}", "flags", [*MUS, flag, v], flag, shared_cache=True))
    out += [
        C(f"music-evaluate{f}={v}", "flags", ["music", "evaluate", "--run", "{mus}", f, v], f, shared_cache=True)
        for f, v in (("--n", "0"), ("--n", "nan"), ("--limit", "-1"))
    ]
    out.append(C("music-sample--seed=nan", "flags", [*sample, "--run", "{mus}", "--seed", "nan"], "--seed"))
    return out


def text_cases() -> list[Case]:
    t = "text"
    sample = ("text", "sample", "--n", "2")
    out = [
        C("text-device-bogus", t, [*TXT, "--device", "bogus"], "--device"),
        C("text-seq-len-huge", t, [*TXT, "--seq-len", "1000000000"], "--seq-len"),
        C("text-hidden-dim-huge", t, [*TXT, "--hidden-dim", "1000000000"], "--hidden-dim"),
        C("text-corpus-dev-zero", t, [*TXT[:2], "--corpus", "/dev/zero", *TXT[4:]], "/dev/zero", timeout=60),
        C(
            "text-corpus-fifo",
            t,
            [*TXT[:2], "--corpus", "{case}/pipe", *TXT[4:]],
            "pipe",
            setup=node("pipe", "fifo"),
            timeout=60,
        ),
        C("text-corpus-binary", t, [*TXT[:2], "--corpus", "{garbage}", *TXT[4:]], "{garbage}"),
        C("text-corpus-missing", t, [*TXT[:2], "--corpus", "{case}/nothing.txt", *TXT[4:]], "nothing.txt"),
        C(
            "text-corpus-empty",
            t,
            [*TXT[:2], "--corpus", "{case}/empty.txt", *TXT[4:]],
            "empty.txt",
            setup=node("empty.txt", "empty"),
        ),
        C(
            "text-evaluate-n-samples-0",
            t,
            ["text", "evaluate", "--run", "{txt}", "--corpus", "{corpus}", "--n-samples", "0"],
            "--n-samples",
        ),
        C("text-sample-temperature-0", t, [*sample, "--run", "{txt}", "--temperature", "0"], "--temperature"),
        C("text-sample-temperature-negative", t, [*sample, "--run", "{txt}", "--temperature", "-1"], "--temperature"),
        C("text-sample-temperature-nan", t, [*sample, "--run", "{txt}", "--temperature", "nan"], "--temperature"),
        C(
            "text-train-into-existing-run",
            t,
            [*TXT[:4], "--out", "{case}/run", *TXT_TINY],
            "already holds a run",
            setup=copy("txt", "run"),
            precious=("{case}/run/model.pt",),
        ),
        C(
            "text-resume-without-checkpoint",
            t,
            [*TXT[:4], "--out", "{case}/run", "--resume", *TXT_TINY],
            "checkpoint",
            setup=run_copy("txt", damaged("checkpoint.pt", "remove")),
            precious=("{case}/run/model.pt",),
        ),
        C(
            "text-resume-flip-checkpoint",
            t,
            [*TXT[:4], "--out", "{case}/run", "--resume", *TXT_TINY],
            "checkpoint.pt",
            setup=run_copy("txt", damaged("checkpoint.pt", "flip")),
        ),
        C(
            "text-sample-flip-model",
            t,
            [*sample, "--run", "{case}/run"],
            "model.pt",
            setup=run_copy("txt", damaged("model.pt", "flip")),
        ),
        C(
            "text-sample-seq-len-1e9",
            t,
            [*sample, "--run", "{case}/run"],
            "seq_len",
            timeout=60,
            setup=run_copy("txt", crafted("model.pt", values={"generator_shape.seq_len": 10**9})),
        ),
        C(
            "text-sample-hidden-1e9",
            t,
            [*sample, "--run", "{case}/run"],
            "model.pt",
            timeout=60,
            setup=run_copy("txt", crafted("model.pt", values={"generator_shape.hidden_dim": 10**9})),
        ),
        C(
            "text-sample-nan-model",
            t,
            [*sample, "--run", "{case}/run"],
            "model.pt",
            setup=run_copy("txt", crafted("model.pt", nan=("generator.embedding.weight",))),
        ),
        C(
            "text-sample-pickled-model",
            t,
            [*sample, "--run", "{case}/run"],
            "model.pt",
            setup=lambda cdir, fill: run_copy("txt", damaged("model.pt", "pickle", fill["marker"]))(cdir, fill),
        ),
    ]
    for flag, v in (
        ("--emb-dim", "0"),
        ("--batch-size", "nan"),
        ("--mle-lr", "inf"),
        ("--gumbel-tau", "-1"),
        ("--n-rollouts", "999"),  # 0 is SeqGAN-REINFORCE, a valid setting
        ("--disc-dropout", "1.5"),
        ("--seed", "-1"),
        ("--min-count", "99999999999"),
    ):
        out.append(C(f"text-train{flag}={v}", "flags", [*TXT, flag, v], flag))
    out += [
        C(f"text-evaluate{f}={v}", "flags", ["text", "evaluate", "--run", "{txt}", "--corpus", "{corpus}", f, v], f)
        for f, v in (("--temperatures", "nan"), ("--seed", "-1"))
    ]
    out.append(C("text-sample--top-k=-1", "flags", [*sample, "--run", "{txt}", "--top-k", "-1"], "--top-k"))
    return out


def concurrency_cases() -> list[Case]:
    """Two runs into one --out (the second refused, the first unharmed), Ctrl-C, kill -9 and --resume."""
    k = "concurrency"
    long_gail = (*TRAIN[:6], "--timesteps", "200000", *TRAIN[8:])
    long_dac = (
        "gail",
        "train",
        "--env",
        ENV,
        "--demos",
        "{demos}",
        "--timesteps",
        "200000",
        "--out",
        "{case}/new",
        "--algo",
        "dac",
        "--n-envs",
        "2",
        "--dqn-net-arch",
        "16",
        "--quiet",
    )
    long_img = (*IMG, "--steps", "100000")
    long_mus = (*MUS, "--steps", "100000")
    long_txt = (*TXT, "--adv-steps", "100000")
    out = [
        C("two-gail-runs-one-out", k, TRAIN, "", runner=rival(long_gail, "{case}/new")),
        C("two-dac-runs-one-out", k, TRAIN, "", runner=rival(long_dac, "{case}/new")),
        C("two-images-runs-one-out", k, IMG, "", runner=rival(long_img, "{case}/new")),
        C("two-music-runs-one-out", k, MUS, "", runner=rival(long_mus, "{case}/new"), shared_cache=True),
        C("two-text-runs-one-out", k, TXT, "", runner=rival(long_txt, "{case}/new")),
        C("two-text-runs-resume-while-running", k, [*TXT, "--resume"], "", runner=rival(long_txt, "{case}/new", 2.0)),
        C("gail-ctrl-c-exits-130", k, long_gail, expect="ok", expect_rc=130, runner=interrupt("{case}/new")),
        C("text-ctrl-c-exits-130", k, long_txt, expect="ok", expect_rc=130, runner=interrupt("{case}/new")),
        C(
            "gail-kill-9-then-resume",
            k,
            (*TRAIN[:6], "--timesteps", "1024", *TRAIN[8:], "--resume", "--checkpoint-every", "256"),
            expect="ok",
            runner=kill_then_resume((*long_gail, "--checkpoint-every", "256"), "{case}/new/checkpoint.pt"),
            check=exists("new/policy.zip"),
        ),
    ]
    return out
