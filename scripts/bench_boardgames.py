"""Masked GAIL on an OpenSpiel board game: search-bot demos -> BC, GAIL, GAIL+BC -> matches.

    python scripts/bench_boardgames.py --game tic_tac_toe [--n-demo-games 50] [--seed 0]

Prints one JSON line as its last line (and appends it to --out): the learner's win/draw/loss
(95% Wilson intervals) against uniform random and against the expert bot's reference
opponent, both colours, ``--games-per-pairing`` games per colour; the expert bot's own
records against the same opponents; BC alone, GAIL alone and GAIL+BC side by side (the
headline ``vs_random`` / ``vs_expert_bot`` are the last learner's, GAIL+BC by default); env and training throughput.

A driver over the library: each game's recipe is its preset in ``gail/suites/boardgame_presets.py``
(a flag given here wins), the same that ``genplay demos collect`` / ``gail train`` apply.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchlib, also when imported by the tests
from benchlib import ArgumentParser, add_seed_fanout, fan_out_seeds, run_main  # noqa: E402

from genplay.gail.algos.board_training import check_board_settings, masked_gail
from genplay.gail.algos.config import replace
from genplay.gail.algos.presets import preset as config_preset
from genplay.gail.saving.run_files import export_policy, load_policy
from genplay.gail.suites.board_symmetry import symmetries
from genplay.gail.suites.boardgame_presets import DEFAULT_BC_REG, PRESETS, board_config, board_preset
from genplay.gail.suites.boardgames import board_factory, collect_bot_demos, play_both_colours

LEARNERS = {"bc": (True, False), "gail": (False, True), "gail_bc": (True, True)}  # (BC warm start, GAIL steps)


def parse_csv_ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(","))


def steps_per_second(game: str, opponent: str, seconds: float = 1.0) -> float:
    """Env steps/s of a uniform-random masked agent (mask read every step) against ``opponent``."""
    env = board_factory(game, opponent).make()
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        mask = env.unwrapped.action_masks()
        _, _, term, _, _ = env.step(int(rng.choice(np.flatnonzero(mask))))
        n += 1
        if term:
            env.reset()
    return n / (time.perf_counter() - start)


def cli_flags(config, base) -> list[str]:
    """``gail train`` flags for the fields where ``config`` differs from ``base`` (the env's preset)."""
    from genplay.settings import flat_settings

    flags = []
    old = flat_settings(base)
    for name, value in flat_settings(config).items():  # each setting by its flag's name (ppo_gamma, bc_epochs)
        if value == old[name]:
            continue
        words = [str(v) for v in value] if isinstance(value, tuple) else [str(value).lower()]
        flags += ["--" + name.replace("_", "-"), *words]
    return flags


def cli_demos(env_id: str, preset, seed: int, out: Path, commands: list[str]):
    """The preset's demos through ``genplay demos collect`` (the flags given here passed on)."""
    from genplay.cli import main as genplay
    from genplay.gail.data.demos import load_demos

    base = PRESETS[preset.game]
    argv = ["demos", "collect", "--env", env_id, "--out", str(out), "--seed", str(seed)]
    if preset.expert != base.expert:
        argv += ["--policy", preset.expert]
    if preset.demo_opponents != base.demo_opponents:
        argv += ["--opponent", preset.demo_opponents]
    if preset.n_demo_games != base.n_demo_games:
        argv += ["--n-episodes", str(preset.n_demo_games)]
    commands.append("genplay " + " ".join(argv))
    if genplay(argv) != 0:
        raise SystemExit(f"error: {commands[-1]} failed")
    return load_demos(out, env_id=env_id)


def cli_learner(env_id: str, config, timesteps: int, out: Path, commands: list[str]):
    """One learner through ``genplay gail train`` into ``out`` (the demos beside it): its loaded
    policy and history; flags only where ``config`` or ``timesteps`` differ from the preset."""
    from genplay.cli import main as genplay

    argv = ["gail", "train", "--env", env_id, "--demos", str(out.parent / "demos.npz"), "--out", str(out)]
    argv += ["--force", "--quiet", *cli_flags(config, config_preset(env_id))]
    if timesteps != board_preset(env_id).timesteps:
        argv += ["--timesteps", str(timesteps)]
    commands.append("genplay " + " ".join(argv))
    if genplay(argv) != 0:
        raise SystemExit(f"error: {commands[-1]} failed")
    return load_policy(out, env_id=env_id), json.loads((out / "history.json").read_text())


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--game", choices=sorted(PRESETS), required=True)
    p.add_argument("--n-demo-games", type=int, default=None, help="expert games in the demos (default per game)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timesteps", type=int, default=None, help="GAIL generator steps (default: per game)")
    p.add_argument("--expert", default=None, help="expert bot spec (default: per game)")
    p.add_argument("--games-per-pairing", type=int, default=500, help="games per colour per pairing")
    p.add_argument("--lr", type=float, default=1e-4, help="PPO learning rate")
    p.add_argument("--no-augment", action="store_true", help="no board-symmetry augmentation of the demos")
    p.add_argument("--net-arch", default="256,256", help="policy hidden widths, comma-separated")
    p.add_argument("--cnn", default=None, help="BoardCNN under the policy: CHANNELS,LAYERS (e.g. 64,3)")
    p.add_argument(
        "--policy",
        choices=("mlp", "symmetric"),
        default=None,
        help="symmetric: logits averaged over the board's symmetry images (SymmetricMaskablePolicy); default per game",
    )
    p.add_argument(
        "--disc-next-obs",
        choices=("on", "off"),
        default="on",
        help="on: the discriminator reads (obs, move, next obs), the next obs after the opponent's reply",
    )
    p.add_argument(
        "--disc-penalty-weight",
        type=float,
        default=1.0,
        help="weight of the discriminator's R1 gradient penalty (GAILConfig.disc_penalty_weight)",
    )
    p.add_argument("--n-epochs", type=int, default=10, help="PPO epochs per rollout")
    p.add_argument(
        "--bc-reg",
        type=int,
        default=None,
        help=f"BC steps after each PPO update (BC-regularised GAIL; 0: off; default per game, else {DEFAULT_BC_REG})",
    )
    p.add_argument("--demo-opponent", default=None, help="opponent spec of the demo games (default: per game)")
    p.add_argument(
        "--train-opponent", default=None, help="opponent spec of the GAIL env (default per game, else the demos')"
    )
    p.add_argument("--learners", default="bc,gail,gail_bc", help="which of bc,gail,gail_bc to train")
    p.add_argument(
        "--route",
        choices=("library", "cli"),
        default="library",
        help="cli: collect and train through `genplay demos collect` / `gail train` (flags only where the settings "
        "differ from the library preset; run dirs under --save or a temp dir); learners gail and gail_bc only",
    )
    p.add_argument("--save", default=None, help="export each trained policy to SAVE/<learner> (load_policy format)")
    p.add_argument("--out", default=None, help="JSONL file to append to (default bench_results/boardgames/GAME.jsonl)")
    add_seed_fanout(p)
    args = p.parse_args(argv)
    if fan_out_seeds(args, argv):
        return 0
    symmetric = None if args.policy is None else args.policy == "symmetric"
    preset = PRESETS[args.game].override(  # the library's recipe; the flags given win
        expert=args.expert,
        demo_opponents=args.demo_opponent,
        timesteps=args.timesteps,
        symmetric_policy=symmetric,
        n_demo_games=args.n_demo_games,
        bc_reg_steps=args.bc_reg,
        train_opponent=args.train_opponent,
    )
    if preset.n_demo_games < 1 or args.games_per_pairing < 1:
        print("error: --n-demo-games and --games-per-pairing must be >= 1", file=sys.stderr)
        return 2
    if not (math.isfinite(args.disc_penalty_weight) and args.disc_penalty_weight >= 0):
        print(
            f"error: --disc-penalty-weight must be a finite number >= 0, got {args.disc_penalty_weight}",
            file=sys.stderr,
        )
        return 2
    names = args.learners.split(",")
    env_id = board_factory(args.game).env_id
    try:
        net_arch = parse_csv_ints(args.net_arch)
        cnn = dict(zip(("channels", "layers"), parse_csv_ints(args.cnn), strict=True)) if args.cnn else None
        assert cnn is None or min(cnn.values()) > 0
        assert net_arch and min(net_arch) > 0 and set(names) <= set(LEARNERS)
        assert args.route == "library" or ("bc" not in names and cnn is None)  # the CLI trains GAIL steps, MLPs
        board_factory(args.game, preset.demo_opponents, None).make().close()  # a malformed opponent spec fails here
        config = board_config(
            preset,
            seed=args.seed,
            lr=args.lr,
            net_arch=net_arch,
            n_epochs=args.n_epochs,
            next_obs=args.disc_next_obs == "on",
            penalty_weight=args.disc_penalty_weight,
        )
        config = replace(config, demo_symmetries=not args.no_augment)
        check_board_settings(env_id, config)  # the GAIL env's opponent
    except Exception:
        print("error: bad --net-arch, --cnn, --learners, --bc-reg or an opponent spec", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    expert, timesteps, reference, n = preset.expert, preset.timesteps, preset.reference, args.games_per_pairing
    policy = "symmetric" if preset.symmetric_policy else "mlp"
    t0 = time.perf_counter()

    commands: list[str] = []  # the genplay commands of --route cli
    if args.route == "cli":
        save = args.save or tempfile.mkdtemp(prefix=f"bench_{args.game}_")
        demos = cli_demos(env_id, preset, args.seed, Path(save) / "demos.npz", commands)
    else:
        opponent = preset.demo_opponents
        demos = collect_bot_demos(args.game, expert, preset.n_demo_games, opponent=opponent, seed=args.seed)
    n_augmented = demos.n_transitions * (1 if args.no_augment else len(symmetries(args.game)))
    print(f"demos: {demos.n_episodes} games, {demos.n_transitions} moves ({n_augmented} augmented)")
    learners, histories, train_s = {}, {}, {}
    for name in names:
        bc, gail = LEARNERS[name]
        cfg = replace(config, bc_epochs=100 if bc else 0)
        start = time.perf_counter()
        if args.route == "cli":
            learners[name], histories[name] = cli_learner(env_id, cfg, timesteps, Path(save) / name, commands)
        else:
            learners[name] = masked_gail(demos, cfg, timesteps if gail else 0, cnn=cnn)
            histories[name] = learners[name].history
            if args.save:
                export_policy(learners[name], Path(args.save) / name)
        train_s[name] = time.perf_counter() - start
        print(f"trained {name} in {train_s[name]:.0f}s", flush=True)

    seed = 10_000 + args.seed
    results = {}
    for name, player in (*learners.items(), ("expert", expert)):
        results[name] = {opp: play_both_colours(args.game, player, opp, n, seed=seed) for opp in ("random", reference)}
        print(f"{name}: " + json.dumps({o: r["total"]["score"] for o, r in results[name].items()}), flush=True)

    line = {
        "game": args.game,
        "n_demo_games": preset.n_demo_games,
        "n_demo_moves": demos.n_transitions,
        "augmented_moves": n_augmented,
        "seed": args.seed,
        "expert": expert,
        "expert_bot": reference,
        "demo_opponents": preset.demo_opponents,
        "demo_record_by_opponent": demos.metadata["expert_record_by_opponent"],
        "timesteps": timesteps,
        "games_per_pairing": 2 * n,
        "net_arch": list(net_arch),
        "cnn": cnn,
        "policy": policy,
        "disc_next_obs": args.disc_next_obs == "on",
        "disc_penalty_weight": args.disc_penalty_weight,
        "lr": args.lr,
        "n_epochs": args.n_epochs,
        "bc_reg_steps": preset.bc_reg_steps,
        "train_opponent": preset.train_opponent or preset.demo_opponents,
        "vs_random": results[names[-1]]["random"]["total"],
        "vs_expert_bot": results[names[-1]][reference]["total"],
        "expert_vs_random": results["expert"]["random"]["total"],
        "expert_vs_bot": results["expert"][reference]["total"],
        "by_learner": {k: {"vs_random": v["random"], "vs_expert_bot": v[reference]} for k, v in results.items()},
        "train_seconds": {k: round(v, 1) for k, v in train_s.items()},
        # the discriminator at the end of GAIL (loss 2 ln 2 = 1.386 and a tiny reward_std: it separates nothing)
        "disc_last": {k: h[-1] for k, h in histories.items() if h},
        "gail_env_steps_per_s": round(timesteps / train_s["gail"], 1) if "gail" in train_s else None,
        "env_steps_per_s_random_opponent": round(steps_per_second(args.game, "random"), 1),
        "env_steps_per_s_mcts50_opponent": round(steps_per_second(args.game, "mcts:50"), 1),
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__,
        "route": args.route,
        "cli_commands": commands or None,
    }
    out = Path(args.out or f"bench_results/boardgames/{args.game}.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(line) + "\n")
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    run_main(main)
