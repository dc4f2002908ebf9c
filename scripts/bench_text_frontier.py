"""Quality-diversity frontier on SeqGAN's oracle (Caccia et al. 2020): one JSON line per (model, temperature, seed).

    python scripts/bench_text_frontier.py --seed 0 --out bench_results/text_frontier_s5.jsonl
    python scripts/bench_text_frontier.py --plot bench_results/text_frontier_s5.jsonl

One MLE generator is trained on ``--n-train`` oracle sequences (early-stopped on ``--n-valid``
others); each adversarial model continues from a copy of it for ``--adv-steps`` steps. Every
model is then swept over ``--temperatures``: ``nll_oracle`` (quality, lower is better) and
``nll_test`` (the model's NLL of held-out oracle sequences at that temperature: diversity).
Adversarial lines carry ``gap_vs_mle``: tempered MLE's NLL_oracle at the same NLL_test minus
the model's (> 0: better than tempered MLE; null: no MLE point at that NLL_test) and ``disc``,
how often the run's discriminator calls training / held-out sequences real and samples fake.
Models (``--models``): mle; seqgan (the published form of ``bench_text.py``'s recipe);
seqgan_reg (a discriminator regularised against memorising: 8 filters per width, dropout
0.5, weight decay 0.05, R1 penalty, one D step per G step; logit reward with a baseline);
each with ``_frozen``: the same run with D untrained and frozen (``disc_steps`` 0, no pretraining).
``--plot FILE`` draws NLL_oracle against NLL_test from FILE's lines into FILE with ``.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchlib, also when imported by the tests
from bench_text import ORACLE_RECIPE  # noqa: E402
from benchlib import ArgumentParser, count, run_main  # noqa: E402

from genplay.cli_args import float_in  # noqa: E402
from genplay.generative.core.utils import seed_everything, select_device  # noqa: E402
from genplay.generative.text.frontier import (  # noqa: E402
    adversarial_from,
    frontier,
    gap_at_matched_nll_test,
    held_out_accuracies,
    train_mle,
)
from genplay.generative.text.models import mean_nll  # noqa: E402
from genplay.generative.text.oracle import OracleTask, oracle_data  # noqa: E402
from genplay.generative.text.seqgan import TextGANConfig  # noqa: E402

REGULARISED_D = {
    "disc_filters": 8,
    "disc_emb_dim": 32,
    "disc_dropout": 0.5,
    "disc_weight_decay": 0.05,
    "disc_penalty": "r1",
    "disc_penalty_weight": 1.0,
    "disc_steps": 1,
}
# TextGANConfig fields and discriminator pretraining steps of each adversarial model
ADVERSARIAL = {
    "seqgan": ({**ORACLE_RECIPE}, 200),
    "seqgan_reg": ({**ORACLE_RECIPE, "reward_form": "logit", "baseline": True, **REGULARISED_D}, 200),
}
MODELS = ("mle", *ADVERSARIAL, *(f"{name}_frozen" for name in ADVERSARIAL))


def model_settings(name: str, seed: int) -> tuple[TextGANConfig, int]:
    """Config and discriminator pretraining steps of adversarial model ``name`` (``_frozen``: D never trains)."""
    base = name.removesuffix("_frozen")
    fields, pretrain = ADVERSARIAL[base]
    if name.endswith("_frozen"):
        fields, pretrain = {**fields, "disc_steps": 0}, 0
    return TextGANConfig(**fields, seed=seed), pretrain


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=count(0), default=0)
    p.add_argument("--n-train", type=count(), default=1000, help="oracle sequences to train on")
    p.add_argument("--n-valid", type=count(), default=500, help="oracle sequences MLE is early-stopped on")
    p.add_argument("--max-mle-epochs", type=count(), default=60)
    p.add_argument("--patience", type=count(), default=3, help="MLE epochs without a better validation NLL")
    p.add_argument("--adv-steps", type=count(), default=150)
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--temperatures", type=float_in(0.01), nargs="+", default=[0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3])
    p.add_argument(
        "--n-eval", type=count(), default=2000, help="samples per NLL_oracle; held-out sequences per NLL_test"
    )
    p.add_argument("--out", default=None, help="also append every JSON line to this file")
    p.add_argument("--plot", default=None, metavar="JSONL", help="only draw the frontier of this file's lines")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=count(), default=1)
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def plot(path: Path) -> Path:
    """NLL_oracle against NLL_test, one curve per (model, seed), temperatures labelled; returns the PNG's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves: dict[tuple[str, int], list[dict]] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if "temperature" in row:
            curves.setdefault((row["model"], row["seed"]), []).append(row)
    fig, ax = plt.subplots(figsize=(7, 5))
    for (model, seed), rows in sorted(curves.items()):
        rows = sorted(rows, key=lambda r: r["temperature"])
        style = "--" if model.endswith("_frozen") else ("-" if model != "mle" else ":")
        ax.plot(
            [r["nll_test"] for r in rows], [r["nll_oracle"] for r in rows], style, marker="o", label=f"{model} s{seed}"
        )
        for r in rows[:: max(1, len(rows) // 3)]:
            ax.annotate(f"{r['temperature']:g}", (r["nll_test"], r["nll_oracle"]), fontsize=7)
    ax.set_xlabel("NLL_test (diversity: lower is better)")
    ax.set_ylabel("NLL_oracle (quality: lower is better)")
    ax.set_title("Oracle task, temperature sweep (labels: temperature)")
    ax.legend(fontsize=7)
    out = path.with_suffix(".png")
    fig.savefig(out, dpi=120, bbox_inches="tight")
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse(argv)
    if args.plot:
        print(json.dumps({"plot": str(plot(Path(args.plot)))}))
        return []
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    device = select_device(args.device)
    command = "python scripts/bench_text_frontier.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    stamp = {"seed": args.seed, "n_train": args.n_train, "command": command, "date": time.strftime("%Y-%m-%d")}
    stamp["machine"] = "2-core CPU, shared with other jobs" if device.type == "cpu" else str(device)
    temps = tuple(sorted(args.temperatures))

    def log(row: dict) -> None:
        if not args.quiet:
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)

    def emit(row: dict) -> dict:
        line = json.dumps({**row, **stamp})
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(line + "\n")
        return row

    task = OracleTask(n_train=args.n_train + args.n_valid)
    oracle, data, test = oracle_data(task, device)
    train, valid = data[: args.n_train], data[args.n_train :]
    test = test[: args.n_eval]
    torch.manual_seed(args.seed)
    mle_config = TextGANConfig(**ORACLE_RECIPE, seed=args.seed)
    mle = train_mle(
        train=train, valid=valid, vocab_size=task.vocab_size, config=mle_config, max_epochs=args.max_mle_epochs,
        patience=args.patience, device=device, log=log,
    )  # fmt: skip
    holder = adversarial_from(
        mle.generator, train=train, vocab_size=task.vocab_size, config=mle_config, steps=0, disc_pretrain_steps=0
    )
    info = {"mle_epochs": mle.epochs, "mle_valid_nll": round(mle.valid_nll, 4), "nll_oracle_of_test": None}
    info["nll_oracle_of_test"] = round(mean_nll(oracle, test), 4)
    reference = frontier(holder, oracle, test, temps, args.n_eval)
    rows = []
    if "mle" in args.models:
        for point in reference:
            rows.append(emit({"model": "mle", **point, **info, "train_seconds": round(mle.train_seconds, 1)}))
    for name in [m for m in args.models if m != "mle"]:
        config, pretrain = model_settings(name, args.seed)
        t0 = time.monotonic()
        gan = adversarial_from(
            mle.generator, train=train, vocab_size=task.vocab_size, config=config, steps=args.adv_steps,
            disc_pretrain_steps=pretrain, device=device, log=log,
        )  # fmt: skip
        seconds = round(time.monotonic() - t0 + mle.train_seconds, 1)
        disc = {k: round(v, 4) for k, v in held_out_accuracies(gan, test).items()}
        points = frontier(gan, oracle, test, temps, args.n_eval)
        for point, gap in zip(points, gap_at_matched_nll_test(reference, points)):
            gap = None if gap is None else round(gap, 4)
            row = {"model": name, **point, "gap_vs_mle": gap, **info, "adv_steps": args.adv_steps, "disc": disc}
            rows.append(emit({**row, "train_seconds": seconds, "config": dataclasses.asdict(config)}))
    return rows


if __name__ == "__main__":
    run_main(lambda: main(sys.argv[1:]) and None)
