"""Small helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
from collections.abc import Callable


def run_main(main: Callable[[], int | None]) -> None:
    """Run a benchmark's ``main`` as the CLI runs a command: bad input (a ``GenplayError``) is one
    ``error:`` line and exit 2, never a traceback."""
    from genplay.errors import GenplayError

    try:
        code = main()
    except GenplayError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        code = 2
    raise SystemExit(code or 0)


def count(low: int = 1):
    """argparse type of a count flag: an integer >= ``low``, checked before any work starts."""
    from genplay.cli_args import int_at_least

    return int_at_least(low)


def peak_rss_mb() -> float:
    """Peak resident memory of this process or its children, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024.0, 1)


def emit(result: dict, out: str | None) -> None:
    """Print ``result`` as one JSON line (the script's last line) and append it to ``out``."""
    line = json.dumps(result)
    print(line, flush=True)
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")


class ArgumentParser(argparse.ArgumentParser):
    """argparse for the benchmark scripts: a usage error is one ``error:`` line and exit 2 (no usage text)."""

    def error(self, message: str):  # type: ignore[override]
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def _resources(*, zero_ok: bool):
    """argparse type: a finite number > 0 (>= 0 with ``zero_ok``): CPUs or GPUs per Ray task."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
            raise argparse.ArgumentTypeError(f"expected a finite number {'>= 0' if zero_ok else '> 0'}, got {text!r}")
        return value

    return parse


def add_seed_fanout(p: argparse.ArgumentParser) -> None:
    """``--seeds 0,1,2`` (one run of this script per seed) and ``--ray [ADDRESS]`` (each run a Ray task)."""
    p.add_argument("--seeds", type=_seed_list, default=None, help="run once per seed (comma-separated)")
    p.add_argument(
        "--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
        help="with --seeds: each run is a Ray task (no ADDRESS: a Ray instance on this machine)",
    )  # fmt: skip
    p.add_argument("--ray-cpus", type=_resources(zero_ok=False), default=1.0, help="--ray: CPUs per run")
    p.add_argument("--ray-gpus", type=_resources(zero_ok=True), default=0.0, help="--ray: GPUs per run")


def _seed_list(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds >= 0, comma-separated; got {text!r}")
    return seeds


def fan_out_seeds(args: argparse.Namespace, argv: list[str] | None = None, script: str | None = None) -> bool:
    """Run this script once per ``--seeds`` seed (``--ray``: as Ray tasks, retried), printing each
    run's JSON line as it lands; exit 1 naming any run that still failed. False: no ``--seeds``.

    Each run is the script started again with ``--seed S`` in place of the fan-out flags, so a
    run here is exactly the run a user would start by hand (its ``--out`` appends its line).
    """
    if args.ray is None and (args.ray_cpus != 1.0 or args.ray_gpus != 0.0):
        print("error: --ray-cpus / --ray-gpus need --ray", file=sys.stderr)
        raise SystemExit(2)
    if args.seeds is None:
        if args.ray is not None:
            print("error: --ray needs --seeds (the runs to fan out)", file=sys.stderr)
            raise SystemExit(2)
        return False
    from genplay.errors import GenplayError
    from genplay.gail.suites.fanout import Job, JobResult, run_jobs, run_script

    script = os.path.abspath(script or sys.argv[0])
    base = [script, *_without_fanout(sys.argv[1:] if argv is None else argv)]
    jobs = [
        Job(f"seed {s}", {"argv": [*base, "--seed", str(s)], "cwd": os.getcwd()}, args.ray_cpus, args.ray_gpus)
        for s in args.seeds
    ]

    stdout = sys.stdout  # run_jobs sends Ray's own chatter to stderr while it runs: results stay on stdout

    def show(result) -> None:
        if result.ok:
            print(json.dumps(result.value), file=stdout, flush=True)

    if args.ray is None:  # one after another here; a failed run is reported, the others still run
        results = []
        for job in jobs:
            try:
                results.append(JobResult(job, run_script(**job.kwargs)))
            except (RuntimeError, ValueError) as exc:  # a failed run, or a JSON line that does not parse
                results.append(JobResult(job, error=str(exc), attempts=1))
            show(results[-1])
    else:
        try:
            results = run_jobs(run_script, jobs, ray_address=args.ray, on_done=show)
        except GenplayError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"error: {r.job.label} failed after {r.attempts} tries: {r.error}", file=sys.stderr)
    if failed:
        raise SystemExit(1)
    return True


def _without_fanout(argv: list[str]) -> list[str]:
    """``argv`` less ``--seeds``, ``--seed``, ``--ray [ADDRESS]``, ``--ray-cpus``, ``--ray-gpus`` (both spellings)."""
    kept, i = [], 0
    while i < len(argv):
        token = argv[i]
        name = token.split("=", 1)[0]
        if name in ("--seeds", "--seed", "--ray-cpus", "--ray-gpus"):
            i += 1 if "=" in token else 2
        elif name == "--ray":
            takes_value = "=" not in token and i + 1 < len(argv) and not argv[i + 1].startswith("-")
            i += 2 if takes_value else 1
        else:
            kept.append(token)
            i += 1
    return kept
