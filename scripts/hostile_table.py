"""The hostile trial's cases: every case issue 28 names (one per bullet item or flag value), then
more of the same kinds on every subcommand. ``{x}`` placeholders come from hostile_fixtures.build,
``{case}`` is the case's temp dir (its cwd); ``{case}/new`` is an output that must not exist after
a refusal (checked by the runner)."""

from __future__ import annotations

from hostile_cases import (
    Case,
    chain,
    copy,
    crafted,
    damaged,
    is_device,
    node,
    replaced,
    run_copy,
)
from hostile_fixtures import DAC_TINY, ENV, GAIL_TINY, IMG_TINY, MUS_TINY, TXT_TINY

TRAIN = ("gail", "train", "--env", ENV, "--demos", "{demos}", "--timesteps", "256", "--out", "{case}/new", *GAIL_TINY)
DAC = ("gail", "train", "--env", ENV, "--demos", "{demos}", "--timesteps", "400", "--out", "{case}/new", *DAC_TINY)
RESUME = ("gail", "train", "--env", ENV, "--demos", "{demos}", "--timesteps", "512", "--out", "{case}/run", "--resume")
EVAL = ("evaluate", "--env", ENV, "--n-episodes", "1", "--no-expert", "--no-random")
COLLECT = ("demos", "collect", "--env", ENV, "--policy", "random", "--n-episodes", "1")
IMG = ("images", "train", "--out", "{case}/new", *IMG_TINY)
MUS = ("music", "train", "--out", "{case}/new", *MUS_TINY)
TXT = ("text", "train", "--corpus", "{corpus}", "--out", "{case}/new", *TXT_TINY)
BOARD = ("demos", "collect", "--env", "genplay/ConnectFour-v0", "--n-episodes", "1", "--out", "{case}/new.npz")
SYNTH = ("synth", "--run", "{run}", "--n-episodes", "2")


def C(name: str, category: str, argv, needle: str = "", **kw) -> Case:  # noqa: N802
    return Case(name, category, tuple(argv), needle, **kw)


def gail_cases() -> list[Case]:
    g = "gail"
    out = [
        C("gail-ppo-cnn-on-vectors", g, [*TRAIN, "--ppo-policy", "CnnPolicy"], "--ppo-policy"),
        C("gail-ppo-sde-on-discrete", g, [*TRAIN, "--ppo-use-sde", "true"], "--ppo-use-sde"),
        C("gail-ppo-net-arch-huge", g, [*TRAIN, "--ppo-net-arch", "1000000000"], "--ppo-net-arch"),
        C("gail-disc-hidden-huge", g, [*TRAIN, "--disc-hidden", "1000000000"], "--disc-hidden"),
        C("gail-n-envs-5000", g, [*TRAIN, "--n-envs", "5000"], "--n-envs"),
        C(
            "gail-dac-run-resumed-as-gail",
            g,
            [*RESUME, *GAIL_TINY],
            "--algo dac",
            setup=run_copy("dac", lambda r: None),
        ),
        C(
            "gail-resume-without-checkpoint",
            g,
            [*RESUME, *GAIL_TINY],
            "checkpoint",
            setup=run_copy("run", damaged("checkpoint.pt", "remove")),
            precious=("{case}/run/policy.zip",),
        ),
        C("gail-resume-missing-dir", g, [*RESUME[:8], "--out", "{case}/nothing", "--resume", *GAIL_TINY], "--out"),
        C(
            "gail-resume-nan-checkpoint",
            g,
            [*RESUME, *GAIL_TINY],
            "checkpoint.pt",
            setup=run_copy("run", crafted("checkpoint.pt", nan=("disc.net.0.weight",))),
        ),
        C(
            "gail-checkpoint-n-rollouts-negative",
            g,
            [*RESUME, *GAIL_TINY],
            "n_rollouts",
            setup=run_copy("run", crafted("checkpoint.pt", values={"n_rollouts": -7})),
        ),
        C(
            "gail-checkpoint-timesteps-negative",
            g,
            [*RESUME, *GAIL_TINY],
            "num_timesteps",
            setup=run_copy("run", crafted("checkpoint.pt", values={"generator.meta.num_timesteps": -1})),
        ),
        C(
            "gail-checkpoint-timesteps-huge",
            g,
            [*RESUME, *GAIL_TINY],
            "num_timesteps",
            setup=run_copy("run", crafted("checkpoint.pt", values={"generator.meta.num_timesteps": 10**30})),
        ),
        C(
            "gail-checkpoint-net-arch-1e9",
            g,
            [*RESUME, *GAIL_TINY],
            "checkpoint.pt",
            timeout=60,
            setup=run_copy(
                "run",
                crafted(
                    "checkpoint.pt", values={"generator.meta.policy_kwargs.net_arch": {"pi": [10**9], "vf": [10**9]}}
                ),
            ),
        ),
        C(
            "gail-checkpoint-config-net-arch-1e9",
            g,
            [*RESUME, *GAIL_TINY],
            "",
            timeout=60,
            setup=run_copy("run", crafted("checkpoint.pt", values={"config.ppo.net_arch": {"__tuple__": [10**9]}})),
        ),
        C(
            "gail-train-into-existing-run",
            g,
            [*TRAIN[:8], "--out", "{case}/run", *GAIL_TINY],
            "already holds a run",
            setup=copy("run"),
            precious=("{case}/run/policy.zip", "{case}/run/checkpoint.pt"),
        ),
        C(
            "gail-train-opponent-missing-policy",
            g,
            [*TRAIN, "--train-opponent", "policy:/nonexistent"],
            "--train-opponent",
        ),
        C(
            "gail-board-opponent-missing-policy",
            g,
            [
                "gail",
                "train",
                "--env",
                "genplay/TicTacToe-v0",
                "--demos",
                "{demos}",
                "--timesteps",
                "256",
                "--out",
                "{case}/new",
                "--train-opponent",
                "policy:/nonexistent",
                "--quiet",
            ],
        ),
        C("gail-resume-changed-setting", g, [*RESUME, *GAIL_TINY, "--disc-lr", "0.01"], "disc_lr", setup=copy("run")),
    ]
    for how in ("flip", "truncate", "empty", "pickle"):
        out.append(
            C(
                f"gail-resume-{how}-checkpoint",
                g,
                [*RESUME, *GAIL_TINY],
                "checkpoint.pt",
                setup=lambda cdir, fill, how=how: run_copy("run", damaged("checkpoint.pt", how, fill["marker"]))(
                    cdir, fill
                ),
            )
        )  # noqa: E501
    bad = {"--timesteps": ("nan", "inf", "-1", "99999999999999"), "--seed": ("nan", "-1", str(2**70)),
           "--disc-lr": ("inf", "1e30", "-1"), "--ppo-gamma": ("-1", "nan"), "--disc-batch-size": ("0", "1e30"),
           "--ppo-n-steps": ("99999999999",), "--reward-clip": ("nan",), "--torch-threads": ("999",),
           "--disc-penalty-weight": ("inf",), "--bc-lr": ("1e30",), "--absorbing-prior": ("nan",)}  # fmt: skip
    for flag, values in bad.items():
        for v in values:
            argv = list(TRAIN)
            if flag == "--timesteps":
                argv[7] = v
            else:
                argv += [flag, v]
            out.append(C(f"gail{flag}={v}", "flags", argv, flag))
    return out


def dac_cases() -> list[Case]:
    d = "dac"
    resume = (*RESUME, *DAC_TINY)
    out = [
        C("dac-gamma-one", d, [*DAC, "--dqn-gamma", "1.0"], "--dqn-gamma"),
        C("dac-buffer-size-huge", d, [*DAC, "--dqn-buffer-size", "100000000000"], "--dqn-buffer-size"),
        C("dac-batch-size-huge", d, [*DAC, "--dqn-batch-size", "100000000000"], "--dqn-batch-size"),
        C("dac-net-arch-huge", d, [*DAC, "--dqn-net-arch", "1000000000"], "--dqn-net-arch"),
        C(
            "dac-gail-run-resumed-as-dac",
            d,
            resume,
            "",
            setup=run_copy("run", lambda r: None),
            not_in=("version 1, expected 2",),
        ),
        C(
            "dac-resume-force-changed-size",
            d,
            [*resume, "--force", "--dqn-buffer-size", "3000"],
            "does not fit",
            setup=copy("dac", "run"),
            not_in=("malformed",),
        ),
        C(
            "dac-resume-without-checkpoint",
            d,
            resume,
            "checkpoint",
            setup=run_copy("dac", damaged("checkpoint.pt", "remove")),
            precious=("{case}/run/policy.zip",),
        ),
        C(
            "dac-resume-flip-checkpoint",
            d,
            resume,
            "checkpoint.pt",
            setup=run_copy("dac", damaged("checkpoint.pt", "flip")),
        ),
    ]
    crafts = {
        "replay-pos-past-capacity": ({"replay.pos": 10**6}, {}, "replay"),
        "replay-pos-negative": ({"replay.pos": -3}, {}, "replay.pos"),
        "timesteps-negative": ({"counters.num_timesteps": -5}, {}, "num_timesteps"),
        "replay-actions-out-of-range": ({}, {"replay.actions": lambda t: t.fill_(7)}, "replay actions"),
        "replay-obs-wrong-shape": ({}, {"replay.observations": lambda t: t[..., :2].clone()}, "replay observations"),
        "nan-q-weights": ({}, {"policy.q_net.q_net.0.weight": "nan"}, "checkpoint.pt"),
        "nan-replay": ({}, {"replay.observations": "nan"}, "checkpoint.pt"),
        "nan-discriminator": ({}, {"disc.net.0.weight": "nan"}, "checkpoint.pt"),
    }
    for name, (values, tensors, needle) in crafts.items():
        nan = tuple(k for k, v in tensors.items() if v == "nan")
        fns = {k: v for k, v in tensors.items() if v != "nan"}
        edit = crafted("checkpoint.pt", values=values, nan=nan, tensors=fns)
        out.append(C(f"dac-checkpoint-{name}", d, resume, needle, setup=run_copy("dac", edit)))
    for flag, values in {"--dqn-learning-rate": ("nan", "-1"), "--dqn-exploration-final-eps": ("2",),
                         "--dqn-train-freq": ("0",), "--dqn-target-update-interval": ("-5",),
                         "--dqn-margin": ("inf",), "--dqn-reward-scale": ("nan",)}.items():  # fmt: skip
        out += [C(f"dac{flag}={v}", "flags", [*DAC, flag, v], flag) for v in values]
    return out


def demos_cases() -> list[Case]:
    d = "demos"
    kwargs = ("demos_steps1", "demos_steps_neg", "demos_render_human", "demos_unknown_kwarg")
    files = (*kwargs, "demos_nested", "demos_other_env_id", "demos_version99", "demos_meta_not_json",
             "demos_nan_obs", "demos_acts_out_of_range", "demos_lengths_mismatch", "demos_negative_length",
             "demos_text", "demos_evil", "demos_evil_npy", "demos_truncated", "demos_flipped", "garbage",
             "pickle")  # fmt: skip
    out = []
    for f in files:
        argv = [*TRAIN[:4], "--demos", "{" + f + "}", *TRAIN[6:]]
        not_in = ("allow_pickle",)
        out.append(C(f"train-{f}", d, argv, "kwargs" if f in kwargs else "{" + f + "}", not_in=not_in))
        out.append(C(f"info-{f}", d, ["demos", "info", "{" + f + "}", "--env", ENV], "{" + f + "}", not_in=not_in))
    out += [
        C("train-demos-dev-zero", d, [*TRAIN[:4], "--demos", "/dev/zero", *TRAIN[6:]], "/dev/zero", timeout=60),
        C(
            "train-demos-fifo",
            d,
            [*TRAIN[:4], "--demos", "{case}/pipe", *TRAIN[6:]],
            "pipe",
            setup=node("pipe", "fifo"),
            timeout=60,
        ),
        C("info-dev-zero", d, ["demos", "info", "/dev/zero"], "/dev/zero", timeout=60),
        C("train-demos-other-env", d, [*TRAIN[:4], "--demos", "{pend_demos}", *TRAIN[6:]], "{pend_demos}"),
        C("train-demos-v0-on-v1", d, [*TRAIN[:4], "--demos", "{v0_demos}", *TRAIN[6:]], "--force"),
        C(
            "collect-policy-evil-zip",
            d,
            [*COLLECT[:4], "--n-episodes", "1", "--out", "{case}/new.npz", "--policy", "{policy_evil}"],
            "{policy_evil}",
        ),
        C(
            "collect-policy-nan",
            d,
            [*COLLECT, "--out", "{case}/new.npz", "--policy", "{policy_nan}"],
            "{policy_nan}",
        ),
        C("collect-policy-pickle", d, [*COLLECT, "--out", "{case}/new.npz", "--policy", "{pickle}"], "{pickle}"),
        C(
            "collect-policy-truncated",
            d,
            [*COLLECT, "--out", "{case}/new.npz", "--policy", "{policy_truncated}"],
            "{policy_truncated}",
        ),
    ]
    for flag, v in (("--n-episodes", "nan"), ("--n-episodes", "-1"), ("--n-episodes", "99999999999"),
                    ("--seed", "nan"), ("--seed", "-1")):  # fmt: skip
        out.append(C(f"collect{flag}={v}", "flags", [*COLLECT, "--out", "{case}/new.npz", flag, v], flag))
    return out


def writes_cases() -> list[Case]:
    """Outputs that are devices, FIFOs, directories or existing files, on every command that writes one."""
    w = "writes"
    targets = {
        "collect": ([*COLLECT, "--out", "{case}/T"], "--out"),
        "images-sample-out": (["images", "sample", "--run", "{img}", "--n", "4", "--out", "{case}/T"], "--out"),
        "images-sample-npz": (["images", "sample", "--run", "{img}", "--n", "4", "--npz", "{case}/T"], "--npz"),
        "synth-out": ([*SYNTH, "--out", "{case}/T"], "--out"),
        "synth-import-out": (["synth", "import", "{minari}/genplay/exists-v0", "--out", "{case}/T"], "--out"),
        "images-evaluate-out": (["images", "evaluate", "--run", "{img}", "--out", "{case}/T"], "--out"),
    }
    out = []
    for name, (argv, flag) in targets.items():
        for kind in ("full", "fifo"):
            out.append(
                C(f"{name}-{kind}-device", w, argv, flag, setup=node("T", kind), check=is_device("T"), timeout=60)
            )
        if name != "images-evaluate-out":
            out.append(
                C(f"{name}-existing-no-force", w, argv, "--force", setup=node("T", name), precious=("{case}/T",))
            )
            out.append(
                C(
                    f"{name}-existing-force",
                    w,
                    [*argv, "--force"],
                    expect="ok",
                    setup=node("T", name),
                    check=replaced("T"),
                )
            )
    for name, argv in {
        "music-sample": ["music", "sample", "--run", "{mus}", "--out", "{case}/T"],
        "synth-report": ["synth", "report", "--run", "{run}", "--data", "{demos}", "--out", "{case}/T"],
        "suite-out": ["evaluate", "--suite", "atari", "--games", "pong", "--policy", "random", "--out", "{case}/T"],
        "gail-train-out": [*TRAIN[:8], "--out", "{case}/T", *GAIL_TINY],
        "images-train-out": ["images", "train", "--out", "{case}/T", *IMG_TINY],
        "text-train-out": ["text", "train", "--corpus", "{corpus}", "--out", "{case}/T", *TXT_TINY],
    }.items():
        out.append(C(f"{name}-full-device", w, argv, "", setup=node("T", "full"), check=is_device("T"), timeout=60))
    out.append(
        C(
            "music-sample-over-existing-midi",
            w,
            ["music", "sample", "--run", "{mus}", "--out", "{case}/T"],
            "",
            setup=chain(node("T", "dir"), node("T/sample_000.mid", "midi")),
            precious=("{case}/T/sample_000.mid",),
        )
    )
    out.append(C("collect-out-under-a-file", w, [*COLLECT, "--out", "{case}/f/x.npz"], "--out", setup=node("f", "x")))
    return out


def cases() -> list[Case]:
    from hostile_table2 import more_cases

    return [*gail_cases(), *dac_cases(), *demos_cases(), *writes_cases(), *more_cases()]
