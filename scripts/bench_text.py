"""Text benchmarks; the last line printed is one JSON object.

    python scripts/bench_text.py --task oracle --seed 0
    python scripts/bench_text.py --task pydoc --seed 0 --minutes 20

oracle: SeqGAN's synthetic benchmark (MLE, then SeqGAN): nll_oracle_mle, nll_oracle_adv,
nll_test (the adversarial generator's NLL on held-out oracle data) and the curve. With no
other flags it runs the measured recipe (ORACLE_RECIPE): 30 MLE epochs, then 150 SeqGAN steps
in its published form (positive reward, no baseline) with 4 rollouts per prefix.
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

from genplay.cli_args import add_dataclass_args, float_in, int_at_least
from genplay.generative.core.utils import seed_everything, select_device
from genplay.generative.text.seqgan import TextGANConfig
from genplay.settings import flag_names

# Script settings per task, where a flag is left out. The oracle's are the measured recipe
# (BENCHMARKS.md, "Text"): 30 MLE epochs take ~5 minutes here, the 150 steps ~5 more.
TASK_DEFAULTS = {
    "oracle": {"minutes": 60.0, "mle_fraction": 0.9, "max_mle_epochs": 30, "max_adv_steps": 150, "eval_every": 25,
               "temperatures": [0.9, 0.95, 1.0]},
    "pydoc": {"minutes": 20.0, "mle_fraction": 0.5, "max_mle_epochs": 120, "max_adv_steps": 10**9, "eval_every": 10,
              "temperatures": [0.8, 0.9, 1.0, 1.1]},
}  # fmt: skip
# TextGANConfig fields of the oracle recipe, where the flag is left out: SeqGAN's published
# form (a positive reward, no baseline), 4 rollouts per prefix, its discriminator rate 1e-4.
ORACLE_RECIPE = {"n_rollouts": 4, "reward_form": "positive", "baseline": False, "gen_lr": 0.003, "disc_lr": 1e-4}


def parse_settings(argv: list[str] | None) -> tuple[argparse.Namespace, TextGANConfig | None]:
    """The script's settings and the GAN's config, task defaults filled in; config None after a seed fan-out."""
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=["oracle", "pydoc"], required=True)
    p.add_argument("--minutes", type=float_in(0.01), help="training wall time (evaluations come on top)")
    p.add_argument("--mle-fraction", type=float_in(0.0, 1.0), help="share of the time spent on MLE pretraining")
    p.add_argument("--max-mle-epochs", type=int_at_least(1), help="oracle: MLE epochs at most")
    p.add_argument("--max-adv-steps", type=int_at_least(1), help="oracle: adversarial steps at most")
    p.add_argument("--disc-pretrain-steps", type=int_at_least(0), default=200)
    p.add_argument(
        "--probe-steps",
        type=int_at_least(0),
        default=0,
        help="oracle: train a separate discriminator this long after MLE and report its accuracies",
    )
    p.add_argument("--n-eval", type=int_at_least(1), default=5000, help="samples per final evaluation")
    p.add_argument("--eval-every", type=int_at_least(1), help="adversarial steps between curve points")
    p.add_argument("--temperatures", type=float_in(0.01), nargs="+")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int_at_least(1), default=1)
    p.add_argument("--quiet", action="store_true")
    add_dataclass_args(p, TextGANConfig)
    add_seed_fanout(p)
    args = p.parse_args(argv)
    if fan_out_seeds(args, argv):
        return args, None
    for name, value in TASK_DEFAULTS[args.task].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    names = [f.name for f in dataclasses.fields(TextGANConfig)]
    given = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    try:
        return args, TextGANConfig(**({**ORACLE_RECIPE, **given} if args.task == "oracle" else given))
    except ValueError as exc:
        p.error(flag_names(str(exc), {"TextGANConfig": ""}))  # TextGANConfig names its field: name the flag


def main(argv: list[str] | None = None) -> dict:
    args, config = parse_settings(argv)
    if config is None:
        return {}
    torch.set_num_threads(args.threads)
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
            max_adv_steps=args.max_adv_steps,
            mle_temperatures=tuple(t for t in args.temperatures if t != 1.0),
            disc_pretrain_steps=args.disc_pretrain_steps,
            probe_steps=args.probe_steps,
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
