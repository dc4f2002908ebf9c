#!/usr/bin/env python
"""Benchmark an image GAN on one (dataset, model, seed): prints ONE JSON line as its last line.

Pipeline: packaged data set -> metric classifier trained on the training split -> GAN for
--steps generator updates -> metrics against the held-out split in the classifier's
feature space (FID, IS, k-NN precision/recall; label accuracy and the augmentation test
for cgan) -> sample grid. ``train_seconds`` is the GAN training alone; ``wall_seconds``
the whole script.

    python scripts/bench_images.py --dataset digits --model dcgan --seed 0
    python scripts/bench_images.py --dataset digits --model cgan --seed 0
    python scripts/bench_images.py --dataset mnist5k --model wgan-gp --seed 0
    python scripts/bench_images.py --dataset digits --model cgan --set lr_generator=1e-3 --out results.jsonl
    python scripts/bench_images.py --dataset digits --model cgan --steps 2000 --eval-at 1000 1500 2000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

import torch
from benchlib import ArgumentParser, add_seed_fanout, count, emit, fan_out_seeds, peak_rss_mb, run_main

from genplay.errors import GenplayError
from genplay.generative.core.state_io import load_state, save_state
from genplay.generative.images.data import ImageData, load_dataset, per_class_subset
from genplay.generative.images.evaluate import augmentation_test, evaluate_generator, metric_classifier, save_grid
from genplay.generative.images.metrics import DigitClassifier
from genplay.generative.images.presets import dataset_preset
from genplay.generative.images.trainer import ImageGAN, ImageGANConfig

# Digits' generator updates per model, chosen so each run fits a few minutes on a shared 2-core CPU (a WGAN-GP
# update holds 5 critic updates with double backprop); MNIST-5k's are its data-set settings
# (``presets.DATASET_SETTINGS``), which ``genplay images train`` takes too.
DEFAULT_STEPS = {
    ("digits", "dcgan"): 4000,
    ("digits", "cgan"): 4000,
    ("digits", "wgan-gp"): 800,
}


def default_steps(dataset: str, model: str) -> int:
    """The benchmark's updates for (``dataset``, ``model``): digits' table above, else the data set's preset."""
    return DEFAULT_STEPS.get((dataset, model)) or dataset_preset(model, dataset).steps


TRAJECTORY_KEYS = ("classifier_fid", "precision", "recall", "label_accuracy")


def parse_set(items: list[str]) -> dict:
    """``key=value`` config overrides, values parsed as JSON when possible."""
    out = {}
    for item in items:
        key, _, raw = item.partition("=")
        if key in ("steps", "seed"):  # --eval-at and the seed fan-out read the flags
            raise GenplayError(f"--set: {key} has its own flag, --{key}; got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def bench_config(dataset: str, model: str, *, steps: int, seed: int, overrides: dict) -> ImageGANConfig:
    """The run's config: the model's preset, then the data set's settings (``DATASET_SETTINGS``, as
    ``genplay images train`` takes them), then ``--set`` (last wins)."""
    return dataset_preset(model, dataset, steps=steps, seed=seed, **overrides)


def cached_metric_classifier(data: ImageData, seed: int) -> tuple[DigitClassifier, float, bool]:
    """``metric_classifier(data, seed=seed)``, trained once per (data set, seed) and kept in the cache.

    Training it takes minutes on a shared CPU and its result depends on the data and the seed
    alone, so runs of different GANs reuse it (``$GENPLAY_CACHE_DIR/images_metric``, a
    ``state_io`` file, never a pickle). Returns the classifier, its accuracy and whether it was cached.
    """
    root = Path(os.environ.get("GENPLAY_CACHE_DIR", Path.home() / ".cache" / "genplay"))
    path = root / "images_metric" / f"{data.name}__{seed}.pt"
    if path.is_file():
        state = load_state(path)
        clf = DigitClassifier(image_shape=data.shape, n_classes=data.n_classes)
        clf.load_state_dict(state["weights"])
        return clf.eval().requires_grad_(False), float(state["accuracy"]), True
    clf, acc = metric_classifier(data, seed=seed, progress=True)
    save_state(path, {"weights": {k: v.detach().cpu() for k, v in clf.state_dict().items()}, "accuracy": acc})
    return clf, acc, False


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="digits", choices=["digits", "mnist5k"])
    p.add_argument("--model", default="dcgan", choices=["dcgan", "cgan", "wgan-gp"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=count(), default=None, help="generator updates (default per data set)")
    p.add_argument("--set", action="append", default=[], help="config override key=value (repeatable)")
    p.add_argument(
        "--aug-per-class",
        type=int,
        nargs="+",
        default=[5, 10, 20],
        help="real images per class (0: skip the augmentation test)",
    )
    p.add_argument(
        "--gan-per-class",
        type=int,
        default=None,
        help="train the GAN on only this many real images per class (the augmentation test's subset)",
    )
    p.add_argument(
        "--eval-at",
        type=count(),
        nargs="+",
        default=[],
        help="also score the sampler and the raw generator after these updates (the run itself is unchanged)",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--grid-dir", default="bench_results/images", help="where sample grids go")
    p.add_argument("--out", default=None, help="also append the JSON line to this file")
    add_seed_fanout(p)
    args = p.parse_args()
    if fan_out_seeds(args):
        return

    t_start = time.perf_counter()
    steps = args.steps or default_steps(args.dataset, args.model)
    if any(s > steps for s in args.eval_at):
        raise GenplayError(f"--eval-at: expected update counts up to --steps ({steps}), got {args.eval_at}")
    try:  # a bad --set or --steps is refused before any work
        config = bench_config(args.dataset, args.model, steps=steps, seed=args.seed, overrides=parse_set(args.set))
    except TypeError as exc:  # an unknown field
        raise GenplayError(f"--set: {exc}") from None
    torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset)
    t0 = time.perf_counter()
    classifier, clf_acc, clf_cached = cached_metric_classifier(data, args.seed)
    classifier_seconds = time.perf_counter() - t0

    gan = ImageGAN(config=config, image_shape=data.shape, n_classes=data.n_classes)
    gan_data = data if args.gan_per_class is None else per_class_subset(data, args.gan_per_class)
    trajectory: list[dict] = []
    eval_seconds = 0.0

    def score(gan: ImageGAN, row: dict) -> None:  # sampling is seeded and in eval mode: training is untouched
        nonlocal eval_seconds
        if row["step"] in args.eval_at:
            t = time.perf_counter()
            point = {"step": row["step"]}
            for name, net in (("sampler", gan.sampler), ("raw", gan.generator)):
                m = evaluate_generator(net, data, classifier, seed=args.seed)
                point[name] = {k: m[k] for k in TRAJECTORY_KEYS if k in m}
            trajectory.append(point)
            print(f"eval-at {json.dumps(point)}", file=sys.stderr, flush=True)  # the curve before the run ends
            eval_seconds += time.perf_counter() - t

    log_every = math.gcd(max(1, steps // 10), *args.eval_at)
    t0 = time.perf_counter()
    gan.train(gan_data, log_every=log_every, callback=score, progress=True)  # stderr heartbeat
    train_seconds = time.perf_counter() - t0 - eval_seconds

    result = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "dataset": args.dataset,
        "model": args.model,
        "seed": args.seed,
        "steps": steps,
        "config": {k: v for k, v in vars(config).items() if k not in ("seed", "steps", "model")},
        "gan_train_images": len(gan_data.train_images),
        "classifier_accuracy": clf_acc,
        **evaluate_generator(gan.sampler, data, classifier, seed=args.seed),
    }
    if args.model == "cgan" and any(k > 0 for k in args.aug_per_class):
        ks = [k for k in args.aug_per_class if k > 0]
        result["augmentation"] = [augmentation_test(data, gan.sampler, per_class=k) for k in ks]
    tag = "" if args.gan_per_class is None else f"__{args.gan_per_class}pc"
    grid = Path(args.grid_dir) / f"{args.dataset}__{args.model}{tag}__{args.seed}.png"
    save_grid(gan.sample(100), grid)
    if trajectory:
        result["trajectory"] = trajectory
    result.update(
        grid=str(grid),
        classifier_seconds=classifier_seconds,
        classifier_cached=clf_cached,
        load_average=os.getloadavg(),
        train_seconds=train_seconds,
        wall_seconds=time.perf_counter() - t_start,
        peak_rss_mb=peak_rss_mb(),
        threads=args.threads,
    )
    emit(result, args.out)


if __name__ == "__main__":
    run_main(main)
