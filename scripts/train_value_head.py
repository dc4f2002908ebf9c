"""Train a PUCT value head for a board-game run: one JSON line per run.

The run's policy plays ``--games`` self-play games (moves sampled from its masked probabilities,
the first ``--random-moves`` plies uniformly random); every position is labelled with the game's
result from its mover's side; an MLP fitted to those labels is written to ``RUN/value_head.state``,
where ``puct:RUN:N`` bots and ``scripts/bench_puct.py`` find it (``gail.suites.value_head``).

    OMP_NUM_THREADS=1 python scripts/train_value_head.py --run runs/c4_dagger --games 20000 --seed 0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

from genplay.errors import GenplayError
from genplay.gail.suites.value_head import ValueHeadConfig, train_value_head


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="the run dir whose policy plays and where the head is stored")
    ap.add_argument("--game", default="connect_four", help="OpenSpiel name: connect_four, othello, tic_tac_toe")
    fields = {f.name: f for f in dataclasses.fields(ValueHeadConfig)}
    for name in ("games", "random_moves", "temperature", "epochs", "seed"):
        ap.add_argument("--" + name.replace("_", "-"), type=type(fields[name].default), default=fields[name].default)
    args = ap.parse_args(argv)
    import pyspiel
    import torch

    from genplay.gail.suites.puct import load_net, mover_planes

    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        config = ValueHeadConfig(**{k: getattr(args, k) for k in ("games", "random_moves", "temperature", "epochs",
                                                                    "seed")})  # fmt: skip
        net = load_net(args.run, args.game)
        game = pyspiel.load_game(args.game)
        planes_of = mover_planes(args.game, tuple(game.observation_tensor_shape()))
        report = train_value_head(args.run, game, net.logits, planes_of, config)
    except GenplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    line = {"bench": "value_head", "game": args.game, "run": args.run, "source": "self-play of the run's policy",
            **dataclasses.asdict(config), **report, "wall_s": round(time.perf_counter() - start, 1),
            "loadavg_1m": round(os.getloadavg()[0], 2)}  # fmt: skip
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
