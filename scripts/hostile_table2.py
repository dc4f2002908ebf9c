"""The hostile trial's cases, second part: evaluate, board games and the benchmark scripts, synth and
Minari (the GANs and concurrency are in hostile_table3.py)."""

from __future__ import annotations

from pathlib import Path

from hostile_cases import (
    Case,
    copy,
    crafted,
    damaged,
    exists,
    node,
    run_copy,
)
from hostile_table import BOARD, EVAL, SYNTH, TRAIN, C


def evaluate_cases() -> list[Case]:
    e = "evaluate"
    out = [C(f"eval-policy-{k}", e, [*EVAL, "--policy", "{" + k + "}"], "{" + k + "}", timeout=60)
           for k in ("policy_nan", "policy_huge_arch", "policy_evil", "policy_truncated", "garbage", "pickle",
                     "torch_pickle", "demos")]  # fmt: skip
    out += [
        C("eval-policy-dev-zero", e, [*EVAL, "--policy", "/dev/zero"], "/dev/zero", timeout=60),
        C("eval-policy-fifo", e, [*EVAL, "--policy", "{case}/pipe"], "pipe", setup=node("pipe", "fifo"), timeout=60),
        C("eval-v1-policy-on-v0", e, ["evaluate", "--env", "CartPole-v0", *EVAL[3:], "--policy", "{run}"], "--force"),
        C(
            "eval-v1-policy-on-v0-forced",
            e,
            ["evaluate", "--env", "CartPole-v0", *EVAL[3:], "--policy", "{run}", "--force"],
            expect="ok",
        ),
        C(
            "eval-policy-on-other-game",
            e,
            [
                "evaluate",
                "--suite",
                "atari",
                "--games",
                "space_invaders",
                "--policy",
                "learned={run}",
                "--out",
                "{case}/new",
            ],
            "trained on CartPole-v1",  # the recorded env id is checked first (the spaces would refuse it too)
        ),
        C(
            "eval-ray-unreachable",
            e,
            [
                "evaluate",
                "--suite",
                "atari",
                "--games",
                "pong",
                "--policy",
                "random",
                "--out",
                "{case}/new",
                "--ray",
                "10.255.255.1:6379",
            ],
            "--ray",
            timeout=120,
        ),
        C(
            "eval-nan-run-dir",
            e,
            [*EVAL, "--policy", "{case}/run"],
            "policy.zip",
            setup=lambda cdir, fill: run_copy(
                "run", lambda r: (r / "policy.zip").write_bytes(Path(fill["policy_nan"]).read_bytes())
            )(cdir, fill),
        ),
    ]
    for flag, v in (("--n-episodes", "nan"), ("--n-episodes", "99999999999"), ("--seed", "inf")):
        out.append(C(f"eval{flag}={v}", "flags", [*EVAL[:3], "--policy", "random", flag, v], flag))
    return out


def board_cases() -> list[Case]:
    b = "board"
    out = [
        C("board-mcts-1e8", b, [*BOARD, "--policy", "mcts:100000000"], "mcts", timeout=60),
        C("board-alphabeta-100-connect-four", b, [*BOARD, "--policy", "alphabeta:100"], "alphabeta", timeout=60),
        C(
            "board-solver-othello",
            b,
            [
                "demos",
                "collect",
                "--env",
                "genplay/Othello-v0",
                "--n-episodes",
                "1",
                "--out",
                "{case}/new.npz",
                "--policy",
                "solver",
            ],
            "solver",
            timeout=60,
        ),
        C("board-mcts-2**70", b, [*BOARD, "--policy", "mcts:2**70"], "--policy"),
        C("board-mcts-negative", b, [*BOARD, "--policy", "mcts:-5"], "--policy"),
        C("board-mcts-nan", b, [*BOARD, "--policy", "mcts:nan"], "--policy"),
        C("board-opponent-missing-policy", b, [*BOARD, "--opponent", "policy:/nonexistent"], "/nonexistent"),
        C("board-opponent-evil-policy", b, [*BOARD, "--opponent", "policy:{policy_evil}"], "{policy_evil}"),
        C(
            "board-suite-mcts-1e8",
            b,
            [
                "evaluate",
                "--suite",
                "boardgames",
                "--env",
                "genplay/TicTacToe-v0",
                "--n-episodes",
                "1",
                "--policy",
                "mcts:100000000",
            ],
            "mcts",
            timeout=60,
        ),
        C(
            "board-train-opponent-mcts-huge",
            b,
            [*TRAIN, "--env", "genplay/ConnectFour-v0", "--train-opponent", "mcts:999999"],
            "--train-opponent",
        ),
        C(
            "bench-boardgames-demo-opponent-missing",
            "bench",
            ["--game", "tic_tac_toe", "--demo-opponent", "policy:/nonexistent", "--out", "{case}/new.jsonl"],
            "/nonexistent",
            script="bench_boardgames.py",
        ),
        C(
            "bench-boardgames-net-arch-bad",
            "bench",
            ["--game", "tic_tac_toe", "--net-arch", "0,-1", "--out", "{case}/new.jsonl"],
            "--net-arch",
            script="bench_boardgames.py",
        ),
        C(
            "bench-boardgames-games-negative",
            "bench",
            ["--game", "tic_tac_toe", "--games-per-pairing", "-1", "--out", "{case}/new.jsonl"],
            "--games-per-pairing",
            script="bench_boardgames.py",
        ),
        C(
            "bench-gail-timesteps-negative",
            "bench",
            ["--gen-timesteps", "-1", "--out", "{case}/new.jsonl"],
            "--gen-timesteps",
            script="bench_gail.py",
        ),
        C(
            "bench-gail-n-demo-zero",
            "bench",
            ["--n-demo", "0", "--out", "{case}/new.jsonl"],
            "--n-demo",
            script="bench_gail.py",
        ),
        C(
            "bench-images-steps-negative",
            "bench",
            ["--steps", "-1", "--out", "{case}/new.jsonl"],
            "--steps",
            script="bench_images.py",
        ),
        C(
            "bench-images-set-unknown",
            "bench",
            ["--set", "bogus=1", "--steps", "2", "--out", "{case}/new.jsonl"],
            "bogus",
            script="bench_images.py",
        ),
        C(
            "bench-music-steps-zero",
            "bench",
            ["--steps", "0", "--out", "{case}/new.jsonl"],
            "--steps",
            script="bench_music.py",
        ),
        C(
            "bench-text-minutes-nan",
            "bench",
            ["--task", "oracle", "--minutes", "nan"],
            "--minutes",
            script="bench_text.py",
        ),
        C(
            "bench-demo-n-demo-negative",
            "bench",
            ["--n-demo", "-3", "--out", "{case}/new.jsonl"],
            "--n-demo",
            script="bench_demo.py",
        ),
    ]
    return out


def synth_cases() -> list[Case]:
    s = "synth"
    export = ("synth", "export", "{demos}", "--minari-root", "{case}/minari")
    imp = ("synth", "import", "--out", "{case}/new.npz")

    def minari_edit(name: str, edit) -> callable:
        def run(cdir, fill):
            copy("minari")(cdir, fill)
            edit(cdir / "minari" / "genplay" / "exists-v0" / "data")
            return {}

        return run

    def too_many(data) -> None:
        import json

        meta = json.loads((data / "metadata.json").read_text())
        meta["total_episodes"] += 3
        (data / "metadata.json").write_text(json.dumps(meta))

    precious = ("{case}/minari/genplay/exists-v0/data/main_data.hdf5",)
    out = [
        C(
            "minari-export-existing-id",
            s,
            [*export, "--minari-id", "genplay/exists-v0"],
            "--force",
            setup=copy("minari"),
            precious=precious,
        ),
        C("minari-id-no-version", s, [*export, "--minari-id", "genplay/cartpole"], "--minari-id"),
        C("minari-id-spaces", s, [*export, "--minari-id", "genplay/my data-v0"], "--minari-id"),
        C("minari-id-traversal", s, [*export, "--minari-id", "../../x-v0"], "--minari-id"),
        C("minari-id-absolute", s, [*export, "--minari-id", "/tmp/x-v0"], "--minari-id"),
        C(
            "minari-relative-root",
            s,
            ["synth", "import", "genplay/rel-v0", "--minari-root", "rel", "--out", "back.npz"],
            expect="ok",
            before=(("synth", "export", "{demos}", "--minari-root", "rel", "--minari-id", "genplay/rel-v0"),),
            check=exists("rel/genplay/rel-v0/data/main_data.hdf5", "back.npz"),
        ),
        C(
            "minari-import-no-hdf5",
            s,
            [*imp, "{case}/minari/genplay/exists-v0"],
            "main_data.hdf5",
            setup=minari_edit("x", lambda d: (d / "main_data.hdf5").unlink()),
        ),
        C(
            "minari-import-bad-metadata",
            s,
            [*imp, "{case}/minari/genplay/exists-v0"],
            "metadata.json",
            setup=minari_edit("x", lambda d: (d / "metadata.json").write_text('{"total_episodes": 5, "obs')),
        ),
        C(
            "minari-import-too-many-episodes",
            s,
            [*imp, "{case}/minari/genplay/exists-v0"],
            "total_episodes",
            setup=minari_edit("x", too_many),
        ),
        C("minari-import-traversal", s, [*imp, "../../x-v0", "--minari-root", "{minari}"], ""),
        C("minari-import-unknown", s, [*imp, "genplay/nothing-v0", "--minari-root", "{minari}"], "nothing-v0"),
        C(
            "synth-on-dac-run",
            s,
            ["synth", "--run", "{dac}", "--n-episodes", "2", "--out", "{case}/new.npz"],
            "",
            not_in=("version 1, expected 2",),
        ),
        C(
            "synth-top-nan-realism",
            s,
            ["synth", "--run", "{case}/run", "--n-episodes", "3", "--top", "2", "--out", "{case}/new.npz"],
            "realism.pt",
            setup=run_copy("run", crafted("realism.pt", nan=("weights.net.0.weight",))),
        ),
        C("synth-min-score-nan", s, [*SYNTH, "--min-score", "nan", "--out", "{case}/new.npz"], "--min-score"),
        C(
            "synth-run-pickled-checkpoint",
            s,
            ["synth", "--run", "{case}/run", "--n-episodes", "2", "--out", "{case}/new.npz"],
            "checkpoint.pt",
            setup=lambda cdir, fill: run_copy("run", damaged("checkpoint.pt", "pickle", fill["marker"]))(cdir, fill),
        ),
        C(
            "synth-scorer-evil-demos",
            s,
            ["synth", "scorer", "--run", "{case}/run", "--demos", "{demos_evil}", "--force"],
            "{demos_evil}",
            setup=copy("run"),
        ),
        C(
            "synth-report-garbage-data",
            s,
            ["synth", "report", "--run", "{run}", "--data", "{garbage}", "--out", "{case}/new"],
            "{garbage}",
        ),
    ]
    for flag, v in (("--temperature", "nan"), ("--temperature", "-1"), ("--temperature", "0"), ("--n-episodes", "-1"),
                    ("--perturb-steps", "-1"), ("--top", "0")):  # fmt: skip
        out.append(C(f"synth{flag}={v}", "flags", [*SYNTH, flag, v, "--out", "{case}/new.npz"], flag))
    # a batch wider than --n-episodes is clipped to it: accepted, nothing allocated for the rest
    out.append(C("synth--batch=99999999999", "flags", [*SYNTH, "--batch", "99999999999", "--out", "{case}/n.npz"],
                 expect="ok", check=exists("n.npz")))  # fmt: skip
    out += [
        C(
            f"synth-scorer{f}={v}",
            "flags",
            ["synth", "scorer", "--run", "{case}/run", "--demos", "{demos}", f, v],
            f,
            setup=copy("run"),
        )
        for f, v in (("--steps", "nan"), ("--expert-episodes", "-1"), ("--random-episodes", "99999999999"))
    ]
    out.append(
        C(
            "synth-report--episodes=0",
            "flags",
            ["synth", "report", "--run", "{run}", "--data", "{demos}", "--episodes", "0", "--out", "{case}/new"],
            "--episodes",
        )
    )
    return out


def more_cases() -> list[Case]:
    from hostile_table3 import concurrency_cases, images_cases, music_cases, text_cases

    return [
        *evaluate_cases(),
        *board_cases(),
        *synth_cases(),
        *images_cases(),
        *music_cases(),
        *text_cases(),
        *concurrency_cases(),
    ]
