"""``genplay music train|sample|evaluate``: the music-GAN commands, added to the main parser by ``add_subparser``.

music21 and pretty-midi (the ``music`` extra) are imported inside the commands, so the parser
builds without them and a missing one is one ``error:`` line naming the extra.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from genplay.errors import GenplayError


def _write_json(path: Path, obj: dict) -> None:
    from genplay.generative.core import atomic_write

    atomic_write(path, lambda p: Path(p).write_text(json.dumps(obj, indent=2) + "\n"))


def write_samples(out: str | Path, rolls: np.ndarray, lowest_pitch: int, n_midi: int) -> list[str]:
    """Write ``n_midi`` MIDI files and a piano-roll PNG of the first roll; returns the MIDI paths."""
    from genplay.generative.music.data import TRACKS
    from genplay.generative.music.midi import save_roll_png, write_midi

    out = Path(out)
    paths = []
    for i in range(min(n_midi, len(rolls))):
        paths.append(str(out / f"sample_{i:03d}.mid"))
        write_midi(paths[-1], rolls[i], lowest_pitch, TRACKS)
    save_roll_png(out / "sample_000.png", rolls[0], lowest_pitch, TRACKS)
    return paths


def metrics_table(generated: dict[str, float], data: dict[str, float]) -> str:
    """Generated metrics beside the data's, with the issue's target checks where it sets one."""
    from genplay.generative.music.metrics import within_target

    ok = within_target(generated, data)
    rows = [f"{'metric':34s} {'generated':>10s} {'data':>10s}  target"]
    for k in data:
        mark = "" if k not in ok else ("ok" if ok[k] else "MISS")
        rows.append(f"{k:34s} {generated[k]:10.3f} {data[k]:10.3f}  {mark}")
    return "\n".join(rows)


def _run_dir(args: argparse.Namespace) -> str:
    """``--run DIR`` (or the older positional ``RUN``, kept as a deprecated alias)."""
    if args.run and args.run_positional and args.run != args.run_positional:
        raise GenplayError(f"--run: given twice ({args.run} and {args.run_positional}); pass --run only")
    run = args.run or args.run_positional
    if not run:
        raise GenplayError("--run: required (a `genplay music train` run directory)")
    return run


def cmd_train(args: argparse.Namespace) -> None:
    """Train (under ``torchrun``: one data-parallel rank; rank 0 locks, writes and prints)."""
    from genplay.generative.core import distributed
    from genplay.generative.core.rundir import run_dir_session
    from genplay.generative.music.data import TRACKS, load_chorales
    from genplay.generative.music.metrics import music_metrics
    from genplay.generative.music.trainer import (
        CHECKPOINT_FILE,
        GENERATOR_FILE,
        MusicGANConfig,
        read_checkpoint_config,
        sample_rolls,
        save_generator,
        train,
    )

    out = Path(args.out)
    ckpt = out / CHECKPOINT_FILE
    names = [f.name for f in dataclasses.fields(MusicGANConfig)]
    flags = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    config = MusicGANConfig(**flags)  # the flags are checked before anything else happens
    if args.resume and ckpt.is_file():  # a resume continues with the stored settings; flags given override them
        config = dataclasses.replace(read_checkpoint_config(ckpt), **flags)
    ctx = distributed.init_from_env(config.device)  # None unless launched by torchrun
    main = ctx is None or ctx.is_main
    markers = (GENERATOR_FILE, CHECKPOINT_FILE, "train.json")
    try:  # one writer per run dir; --resume needs a checkpoint; a failed first step leaves no trace
        with run_dir_session(out, markers, checkpoint=CHECKPOINT_FILE, resume=args.resume, force=args.force, lock=main):
            rolls = load_chorales(args.limit, verbose=not args.quiet and main)

            def log(row: dict) -> None:
                if not args.quiet:
                    d, g = row["d_loss"], row["g_loss"]
                    print(f"step {row['step']}: d_loss {d:.3f} g_loss {g:.3f} ({row['seconds']:.0f}s)", flush=True)

            generator, summary = train(
                config, rolls, log_every=args.log_every, callback=log, dist=ctx, checkpoint=ckpt,
                resume=args.resume, progress=not args.quiet,
            )  # fmt: skip
            if not main:
                return
            save_generator(out / GENERATOR_FILE, config, generator, rolls, limit=args.limit)
            samples = sample_rolls(generator, args.n_eval, seed=config.seed)
            write_samples(out, samples, rolls.lowest_pitch, 4)
            generated = music_metrics(samples, rolls.lowest_pitch, TRACKS)
            data = music_metrics(rolls.windows, rolls.lowest_pitch, TRACKS)
            _write_json(out / "train.json", {**summary, "generated": generated, "data": data})
    finally:
        distributed.shutdown()
    if not args.quiet:
        print(metrics_table(generated, data))
    print(f"trained {config.steps} steps in {summary['train_seconds']:.0f}s; run in {out}")


def cmd_sample(args: argparse.Namespace) -> None:
    from genplay.cli_args import check_out_dir, check_output_file
    from genplay.generative.music.trainer import load_generator, sample_rolls

    run = _run_dir(args)
    check_out_dir(args.out)
    for name in [f"sample_{i:03d}.mid" for i in range(args.n)] + ["sample_000.png"]:
        check_output_file(str(Path(args.out) / name), "--out", force=args.force)  # earlier samples are kept
    gen, _, lowest = load_generator(run, args.device)
    paths = write_samples(
        args.out, sample_rolls(gen, args.n, seed=args.seed, temperature=args.temperature), lowest, args.n
    )
    print("\n".join([*paths, str(Path(args.out) / "sample_000.png")]))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from genplay.generative.music.data import TRACKS, load_chorales
    from genplay.generative.music.metrics import music_metrics
    from genplay.generative.music.trainer import load_generator, sample_rolls, trained_limit

    run = _run_dir(args)
    gen, _, lowest = load_generator(run, args.device)
    rolls = load_chorales(args.limit if args.limit is not None else trained_limit(run))
    if (rolls.lowest_pitch, rolls.pitches) != (lowest, gen.pitches):
        raise GenplayError(
            f"--limit: the run was trained on pitches {lowest}..{lowest + gen.pitches - 1}, this data set spans "
            f"{rolls.lowest_pitch}..{rolls.lowest_pitch + rolls.pitches - 1}; pass the --limit used for training"
        )
    generated = music_metrics(sample_rolls(gen, args.n, seed=args.seed, temperature=args.temperature), lowest, TRACKS)
    data = music_metrics(rolls.windows, lowest, TRACKS)
    print(metrics_table(generated, data))
    _write_json(
        Path(run) / "metrics.json", {"generated": generated, "data": data, "n": args.n, "temperature": args.temperature}
    )


def _add_run(p: argparse.ArgumentParser) -> None:
    """``--run`` (and its positional alias) and ``--temperature``: what sample and evaluate both read."""
    from genplay.cli_args import float_in
    from genplay.generative.music.trainer import SAMPLING_TEMPERATURE

    p.add_argument("--run", default=None, help="run directory of `genplay music train`")
    p.add_argument("run_positional", nargs="?", metavar="RUN", help="the same as --run (deprecated spelling)")
    p.add_argument(
        "--temperature", type=float_in(0.0, 100.0), default=SAMPLING_TEMPERATURE,
        help="0: each 16th step takes its most likely token; above 0: drawn from the softmax of logits / T",
    )  # fmt: skip


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``music train|sample|evaluate`` to the ``genplay`` parser."""
    from genplay.cli_args import DefaultsHelpFormatter, add_dataclass_args, int_at_least, positive_int, seed_int
    from genplay.generative.music.trainer import MusicGANConfig

    mu = subparsers.add_parser("music", help="MuseGAN-style multitrack GAN on the Bach chorales, to MIDI")
    act = mu.add_subparsers(dest="action", required=True)
    fmt = DefaultsHelpFormatter
    t = act.add_parser(
        "train", help="train a generator; writes generator.state, samples and train.json", formatter_class=fmt
    )
    t.add_argument("--out", required=True, help="run directory")
    t.add_argument("--limit", type=positive_int, default=None, help="use the first N chorales only (default: all 371)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt (an error if there is none)")
    t.add_argument("--force", action="store_true", help="start over in an OUT that already holds a run")
    t.add_argument("--n-eval", type=int_at_least(1, 100_000), default=1000, help="generated windows for the metrics")
    t.add_argument("--log-every", type=int_at_least(1, 10_000_000), default=100, help="steps between log lines")
    t.add_argument("--quiet", action="store_true", help="no log or progress lines")
    add_dataclass_args(t, MusicGANConfig)
    t.set_defaults(func=cmd_train)

    s = act.add_parser("sample", help="write MIDI files and a piano-roll PNG from a trained run", formatter_class=fmt)
    _add_run(s)
    s.add_argument("--out", required=True, help="output directory")
    s.add_argument("--n", type=int_at_least(1, 1000), default=4, help="4-bar samples (one MIDI file each)")
    s.add_argument("--force", action="store_true", help="overwrite sample files already in --out")
    s.add_argument("--seed", type=seed_int, default=0)
    s.add_argument("--device", default="cpu", help="cpu or cuda")
    s.set_defaults(func=cmd_sample)

    e = act.add_parser(
        "evaluate", help="metrics of generated rolls beside the same metrics on the data", formatter_class=fmt
    )
    _add_run(e)
    e.add_argument("--n", type=int_at_least(1, 100_000), default=1000, help="generated 4-bar samples")
    e.add_argument(
        "--limit", type=positive_int, default=None, help="chorales to compare with (default: the run's own --limit)"
    )
    e.add_argument("--seed", type=seed_int, default=0)
    e.add_argument("--device", default="cpu", help="cpu or cuda")
    e.set_defaults(func=cmd_evaluate)
