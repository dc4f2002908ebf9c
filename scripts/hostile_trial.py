"""The hostile trial of issue 28, rerun on today's code: every case the issue names plus more of the
same kinds on every subcommand (bad numbers, odd files and device nodes as outputs, pickled,
truncated, bit-flipped and crafted state files, two runs into one --out, --resume without a
checkpoint, crafted demos metadata, bot budgets, Ctrl-C and kill -9).

Each case runs the real CLI (``python -m genplay``, or a script under scripts/) in a subprocess
with a timeout (a hang is a failure), in a temp dir of its own with an empty GENPLAY_CACHE_DIR
and HOME unless it needs the shared cache. A case is clean when it exits 2 with exactly one
``error:`` line on stderr holding the case's needle (the flag or file it must name), no
traceback, no pickle payload ran (the marker file is absent), the shared fixtures and the
case's pre-existing files are unchanged; a case where success is right is clean on exit 0 (or
130 for Ctrl-C) and its check passing.

    python scripts/hostile_trial.py [--only gail,images] [--jobs 2] [--keep]

One JSON line per case ({"case", "category", "clean", "rc", "problem", "stderr_tail"}), then a
summary line ({"tried", "clean", "clean_share", "ran_code", "lost", "hangs", "tracebacks", ...}).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import ArgumentParser  # noqa: E402
from hostile_cases import Case, Outcome, all_cases, run_cli  # noqa: E402
from hostile_fixtures import build, cli_env  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def tree_digest(path: Path) -> str:
    """sha256 over the names and bytes of every regular file under ``path`` (locks left out)."""
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file() and not p.is_symlink() and p.name != ".lock":
            h.update(str(p.relative_to(path)).encode() + p.read_bytes())
    return h.hexdigest()


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else f"kind:{path.stat().st_mode}"
    except FileNotFoundError:
        return None


class Trial:
    """Runs cases against shared fixtures and classifies each outcome."""

    def __init__(self, root: Path, fx: dict[str, str], timeout: float) -> None:
        self.root, self.fx, self.timeout = root, fx, timeout
        self.fx_digest = tree_digest(Path(fx["fx"]))
        self.print_lock = threading.Lock()

    def run_case(self, case: Case) -> dict:
        cdir = self.root / "cases" / case.name
        (cdir / "home").mkdir(parents=True)
        cache = Path(self.fx["fx"]) / "cache" if case.shared_cache else cdir / "cache"
        env = cli_env(cdir / "home", cache)
        fill = {**self.fx, "case": str(cdir), "cache": str(cache)}
        try:
            fill.update(case.setup(cdir, fill) if case.setup is not None else {})
        except Exception as exc:  # the trial's own bug: reported, never counted clean
            return self.report(case, Outcome(None, ""), f"set-up error: {type(exc).__name__}: {exc}")
        precious = {p.format(**fill): None for p in case.precious}
        precious = {p: _file_digest(Path(p)) for p in precious}
        marker = Path(self.fx["marker"])
        try:
            out = case.runner(case, fill, env, cdir, case.timeout or self.timeout)
        except subprocess.TimeoutExpired:
            out = Outcome(rc=None, stderr="", hang=True)
        problem = self.classify(case, out, fill)
        lost = [p for p, d in precious.items() if _file_digest(Path(p)) != d]
        if lost:
            problem = f"lost: {', '.join(lost)} changed or gone"
        if tree_digest(Path(self.fx["fx"])) != self.fx_digest:
            problem, self.fx_digest = "lost: a shared fixture changed", tree_digest(Path(self.fx["fx"]))
        if marker.exists():
            problem = "ran_code: a pickle payload created its marker"
            marker.unlink()
        return self.report(case, out, problem)

    def report(self, case: Case, out: Outcome, problem: str | None) -> dict:
        """Print and return the case's JSON row."""
        tail = " | ".join(out.stderr.strip().splitlines()[-3:])[-400:]
        row = {"case": case.name, "category": case.category, "clean": problem is None, "rc": out.rc}
        row.update(problem=problem, stderr_tail=tail)
        with self.print_lock:
            print(json.dumps(row), flush=True)
        return row

    @staticmethod
    def classify(case: Case, out: Outcome, fill: dict[str, str]) -> str | None:
        """None when clean, else the first problem found (hang, traceback, accepted, unclear, check)."""
        if out.hang:
            return "hang: no exit within the timeout"
        if "Traceback (most recent call last)" in out.stderr:
            return "traceback"
        if out.problem:
            return out.problem
        if case.expect == "refuse":
            lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
            if out.rc == 0:
                return "accepted: exit 0 on bad input"
            if out.rc != 2:
                return f"exit {out.rc}"
            if len(lines) != 1 or not lines[0].startswith("error: "):
                return f"unclear: {len(lines)} stderr lines, expected one 'error:' line"
            needle = case.needle.format(**fill)
            if needle and needle not in lines[0]:
                return f"unclear: the error does not name {needle!r}"
            if any(bad in lines[0] for bad in case.not_in):
                return f"unclear: the error says {[b for b in case.not_in if b in lines[0]]}"
            left = _left_behind(case, Path(fill["case"]))
            if left:
                return f"lost: the refused command left {left} behind"
        elif out.rc != case.expect_rc:
            return f"exit {out.rc}, expected {case.expect_rc}"
        return case.check(Path(fill["case"]), fill) if case.check else None


def _left_behind(case: Case, cdir: Path) -> list[str]:
    """Files a refused command left at its new output (``{case}/new*``): a failed run must leave none."""
    if case.runner is not run_cli or not any("{case}/new" in a for a in case.argv):
        return []
    found = [p for p in cdir.glob("new*") if p.is_file()]
    found += [p for d in cdir.glob("new*") if d.is_dir() for p in d.rglob("*") if p.is_file() and p.name != ".lock"]
    return sorted(str(p.relative_to(cdir)) for p in found)


def _fixtures(where: Path) -> dict[str, str]:
    """Build the fixtures in ``where``, or reuse the ones a previous ``--fixtures`` run left there."""
    index = where / "fixtures.json"
    if index.is_file():
        return json.loads(index.read_text())
    fx = build(where / "fx", cli_env(where / "home", where / "fx" / "cache"))
    index.write_text(json.dumps(fx))
    return fx


def main() -> None:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=None, help="comma-separated categories (default: all)")
    p.add_argument("--cases", default=None, help="comma-separated case names (default: all)")
    p.add_argument("--jobs", type=int, default=2, help="cases run side by side")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds before a case counts as a hang")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (its path goes to stderr)")
    p.add_argument("--fixtures", default=None, help="reuse (or make and keep) the fixtures in this dir")
    p.add_argument("--list", action="store_true", help="print the case names and categories, run nothing")
    args = p.parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # started with SIGINT ignored (cmd &): children too
    cases = all_cases()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {c.category for c in cases}
        if unknown:
            p.error(f"--only: unknown categories {sorted(unknown)}")
        cases = [c for c in cases if c.category in wanted]
    if args.cases:
        names = set(args.cases.split(","))
        cases = [c for c in cases if c.name in names]
    if args.list:
        for c in cases:
            print(c.category, c.name)
        return
    root = Path(tempfile.mkdtemp(prefix="genplay-hostile-"))
    t0 = time.time()
    try:
        fx = _fixtures(Path(args.fixtures) if args.fixtures else root / "fx")
        trial = Trial(root, fx, args.timeout)
        setup_s = time.time() - t0
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            rows = list(pool.map(trial.run_case, cases))
    finally:
        if args.keep:
            print(f"trial dir: {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    problems = [r["problem"] or "" for r in rows]
    clean = sum(r["clean"] for r in rows)
    summary = {
        "tried": len(rows),
        "clean": clean,
        "clean_share": round(clean / max(1, len(rows)), 4),
        "ran_code": sum(p.startswith("ran_code") for p in problems),
        "lost": sum(p.startswith("lost") for p in problems),
        "hangs": sum(p.startswith("hang") for p in problems),
        "tracebacks": sum(p == "traceback" for p in problems),
        "accepted": sum(p.startswith("accepted") for p in problems),
        "unclear": sum(p.startswith("unclear") for p in problems),
        "other": sum(bool(p) and p.split(":")[0].split(" ")[0] not in _KINDS for p in problems),
        "unclean_cases": [r["case"] for r in rows if not r["clean"]],
        "fixtures_s": round(setup_s, 1),
        "wall_s": round(time.time() - t0, 1),
        "jobs": args.jobs,
    }
    print(json.dumps(summary), flush=True)


_KINDS = {"ran_code", "lost", "hang", "traceback", "accepted", "unclear"}

if __name__ == "__main__":
    main()
