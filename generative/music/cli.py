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


def cmd_train(args: argparse.Namespace) -> None:
    """Train (under ``torchrun``: one data-parallel rank; rank 0 locks, writes and prints)."""
    import contextlib

    from genplay.cli_args import check_out_dir
    from genplay.generative.core import distributed
    from genplay.generative.core.rundir import RunDirLock, check_run_dir
    from genplay.generative.music.data import TRACKS, load_chorales
    from genplay.generative.music.metrics import music_metrics
    from genplay.generative.music.trainer import GENERATOR_FILE, MusicGANConfig, sample_rolls, save_generator, train

    names = [f.name for f in dataclasses.fields(MusicGANConfig)]
    config = MusicGANConfig(**{n: getattr(args, n) for n in names if getattr(args, n, None) is not None})
    check_out_dir(args.out)
    out = Path(args.out)
    check_run_dir(out, (GENERATOR_FILE,), resume=False, force=args.force)
    ctx = distributed.init_from_env(config.device)  # None unless launched by torchrun
    main = ctx is None or ctx.is_main
    try:
        with RunDirLock(out) if main else contextlib.nullcontext():
            rolls = load_chorales(args.limit, verbose=not args.quiet and main)

            def log(row: dict) -> None:
                if not args.quiet:
                    d, g = row["d_loss"], row["g_loss"]
                    print(f"step {row['step']}: d_loss {d:.3f} g_loss {g:.3f} ({row['seconds']:.0f}s)")

            generator, summary = train(config, rolls, log_every=args.log_every, callback=log, dist=ctx)
            if not main:
                return
            save_generator(out / GENERATOR_FILE, config, generator, rolls)
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
    from genplay.cli_args import check_out_dir
    from genplay.generative.music.trainer import load_generator, sample_rolls

    if args.n < 1:
        raise GenplayError(f"--n: expected a positive number of samples, got {args.n}")
    check_out_dir(args.out)
    gen, _, lowest = load_generator(args.run, args.device)
    paths = write_samples(args.out, sample_rolls(gen, args.n, seed=args.seed), lowest, args.n)
    print("\n".join([*paths, str(Path(args.out) / "sample_000.png")]))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from genplay.generative.music.data import TRACKS, load_chorales
    from genplay.generative.music.metrics import music_metrics
    from genplay.generative.music.trainer import load_generator, sample_rolls

    if args.n < 1:
        raise GenplayError(f"--n: expected a positive number of samples, got {args.n}")
    gen, _, lowest = load_generator(args.run, args.device)
    rolls = load_chorales(args.limit)
    if (rolls.lowest_pitch, rolls.pitches) != (lowest, gen.pitches):
        raise GenplayError(
            f"--limit: the run was trained on pitches {lowest}..{lowest + gen.pitches - 1}, this data set spans "
            f"{rolls.lowest_pitch}..{rolls.lowest_pitch + rolls.pitches - 1}; pass the --limit used for training"
        )
    generated = music_metrics(sample_rolls(gen, args.n, seed=args.seed), lowest, TRACKS)
    data = music_metrics(rolls.windows, lowest, TRACKS)
    print(metrics_table(generated, data))
    _write_json(Path(args.run) / "metrics.json", {"generated": generated, "data": data, "n": args.n})


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``music train|sample|evaluate`` to the ``genplay`` parser."""
    from genplay.cli_args import add_dataclass_args, positive_int, seed_int
    from genplay.generative.music.trainer import MusicGANConfig

    mu = subparsers.add_parser("music", help="MuseGAN-style multitrack GAN on the Bach chorales, to MIDI")
    act = mu.add_subparsers(dest="action", required=True)
    fmt = argparse.ArgumentDefaultsHelpFormatter
    t = act.add_parser(
        "train", help="train a generator; writes generator.state, samples and train.json", formatter_class=fmt
    )
    t.add_argument("--out", required=True, help="run directory")
    t.add_argument("--limit", type=positive_int, default=None, help="use the first N chorales only")
    t.add_argument("--force", action="store_true", help="train into a directory that already holds a run")
    t.add_argument("--n-eval", type=positive_int, default=1000, help="generated windows for the final metrics")
    t.add_argument("--log-every", type=positive_int, default=100)
    t.add_argument("--quiet", action="store_true")
    add_dataclass_args(t, MusicGANConfig)
    t.set_defaults(func=cmd_train)

    s = act.add_parser("sample", help="write MIDI files and a piano-roll PNG from a trained run", formatter_class=fmt)
    s.add_argument("run", help="run directory of `genplay music train`")
    s.add_argument("--out", required=True, help="output directory")
    s.add_argument("--n", type=positive_int, default=4, help="4-bar samples (one MIDI file each)")
    s.add_argument("--seed", type=seed_int, default=0)
    s.add_argument("--device", default="cpu", help="cpu or cuda")
    s.set_defaults(func=cmd_sample)

    e = act.add_parser(
        "evaluate", help="metrics of generated rolls beside the same metrics on the data", formatter_class=fmt
    )
    e.add_argument("run", help="run directory of `genplay music train`")
    e.add_argument("--n", type=positive_int, default=1000, help="generated 4-bar samples")
    e.add_argument("--limit", type=positive_int, default=None, help="the --limit used for training")
    e.add_argument("--seed", type=seed_int, default=0)
    e.add_argument("--device", default="cpu", help="cpu or cuda")
    e.set_defaults(func=cmd_evaluate)
