"""Text benchmarks; the last line printed is one JSON object.

    python scripts/bench_text.py --task oracle --seed 0 --minutes 20
    python scripts/bench_text.py --task pydoc --seed 0 --minutes 20

oracle: SeqGAN's synthetic benchmark (MLE, then SeqGAN): nll_oracle_mle, nll_oracle_adv,
nll_test (the adversarial generator's NLL on held-out oracle data) and the curve.
pydoc: word-level sentences of ``pydoc_data.topics``: BLEU-2..5 against held-out text and
self-BLEU for the MLE and adversarial models over a temperature sweep.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchlib, also when imported by the tests
from benchlib import ArgumentParser, add_seed_fanout, fan_out_seeds  # noqa: E402

from genplay.cli_args import add_dataclass_args
from genplay.generative.core.utils import seed_everything, select_device
from genplay.generative.text.seqgan import TextGANConfig


def main(argv: list[str] | None = None) -> dict:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=["oracle", "pydoc"], required=True)
    p.add_argument("--minutes", type=float, default=20.0, help="training wall time (evaluations come on top)")
    p.add_argument("--mle-fraction", type=float, default=0.5, help="share of the time spent on MLE pretraining")
    p.add_argument("--max-mle-epochs", type=int, default=120, help="oracle: stop MLE after this many epochs")
    p.add_argument("--disc-pretrain-steps", type=int, default=200)
    p.add_argument("--n-eval", type=int, default=5000, help="samples per final evaluation")
    p.add_argument("--eval-every", type=int, default=10, help="adversarial steps between curve points")
    p.add_argument("--temperatures", type=float, nargs="*", default=[0.8, 0.9, 1.0, 1.1])
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quiet", action="store_true")
    add_dataclass_args(p, TextGANConfig)
    add_seed_fanout(p)
    args = p.parse_args(argv)
    if fan_out_seeds(args, argv):
        return {}
    torch.set_num_threads(args.threads)
    names = [f.name for f in dataclasses.fields(TextGANConfig)]
    config = TextGANConfig(**{n: getattr(args, n) for n in names if getattr(args, n) is not None})
    seed_everything(config.seed)
    device = select_device(args.device)

    def log(row: dict) -> None:
        if not args.quiet:
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)

    t0 = time.monotonic()
    if args.task == "oracle":
        from genplay.generative.text.oracle import OracleTask, run_oracle

        res = run_oracle(
            task=OracleTask(),
            config=config,
            minutes=args.minutes,
            mle_fraction=args.mle_fraction,
            max_mle_epochs=args.max_mle_epochs,
            mle_temperatures=tuple(t for t in args.temperatures if t != 1.0),
            disc_pretrain_steps=args.disc_pretrain_steps,
            n_eval=args.n_eval,
            eval_every=args.eval_every,
            device=device,
            log=log,
        )
        res.pop("gan")
    else:
        from genplay.generative.text.corpus import run_pydoc

        res = run_pydoc(
            config=config,
            minutes=args.minutes,
            mle_fraction=args.mle_fraction,
            disc_pretrain_steps=args.disc_pretrain_steps,
            temperatures=args.temperatures,
            device=device,
            log=log,
        )
    out = {"task": args.task, "seed": config.seed, **res, "wall_seconds": round(time.monotonic() - t0, 1)}
    out["config"] = dataclasses.asdict(config)
    out["machine"] = "2-core CPU, shared with other jobs" if device.type == "cpu" else str(device)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
