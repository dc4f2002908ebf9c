"""The hostile trial's case type, its runners (one CLI call; a rival run on a held --out; Ctrl-C;
kill -9 then --resume) and the set-ups that make a case's files. The cases are in hostile_table.py."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hostile_fixtures import bitflip, craft_state, nan_fill, torch_pickle, truncate

SCRIPTS = Path(__file__).resolve().parent
Setup = Callable[[Path, dict], dict]


@dataclass(frozen=True)
class Outcome:
    """What a case's command did: exit code (None on a hang) and stderr; ``problem`` from its runner."""

    rc: int | None
    stderr: str
    hang: bool = False
    problem: str | None = None


def run_cli(case: Case, fill: dict, env: dict, cwd: Path, timeout: float) -> Outcome:
    """The case's ``before`` commands (each must exit 0), then its own command."""
    for argv in case.before:
        out = _call(case, argv, fill, env, cwd, timeout)
        if out.rc != 0:
            return Outcome(out.rc, out.stderr, out.hang, f"set-up command failed (exit {out.rc})")
    return _call(case, case.argv, fill, env, cwd, timeout)


def _command(case: Case, argv: tuple[str, ...], fill: dict) -> list[str]:
    args = [a.format(**fill) for a in argv]
    if case.script:
        return [sys.executable, str(SCRIPTS / case.script), *args]
    return [sys.executable, "-m", "genplay", *args]


def _call(case: Case, argv: tuple[str, ...], fill: dict, env: dict, cwd: Path, timeout: float) -> Outcome:
    proc = subprocess.Popen(
        _command(case, argv, fill), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Outcome(None, "", hang=True)
    return Outcome(proc.returncode, err)


def _start(case: Case, argv: tuple[str, ...], fill: dict, env: dict, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        _command(case, argv, fill), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def _wait_for(path: Path, proc: subprocess.Popen, limit: float) -> bool:
    end = time.time() + limit
    while time.time() < end and proc.poll() is None:
        if path.exists():
            return True
        time.sleep(0.1)
    return path.exists()


def rival(first: tuple[str, ...], out: str, settle: float = 0.0) -> Callable:
    """Runner: start ``first`` (a long run into ``out``); once ``out/.lock`` exists (plus ``settle``
    seconds) run the case's command into the same ``out``; then Ctrl-C ``first``, which must exit
    0 or 130 with its files readable. The case's outcome is the rival's."""

    def runner(case: Case, fill: dict, env: dict, cwd: Path, timeout: float) -> Outcome:
        proc = _start(case, first, fill, env, cwd)
        try:
            if not _wait_for(Path(out.format(**fill)) / ".lock", proc, timeout):
                return Outcome(None, "", problem=f"the first run never took its lock: {proc.communicate()[1][-300:]}")
            time.sleep(settle)
            result = _call(case, case.argv, fill, env, cwd, timeout)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                return Outcome(result.rc, result.stderr, problem="hang: the first run ignored Ctrl-C")
        if proc.returncode not in (0, 130):
            return Outcome(
                result.rc, result.stderr, problem=f"the first run failed (exit {proc.returncode}): {err[-200:]}"
            )
        return result

    return runner


def interrupt(out: str, sig: int = signal.SIGINT, after: float = 3.0) -> Callable:
    """Runner: start the case's command, send ``sig`` ``after`` seconds after ``out/.lock`` appears."""

    def runner(case: Case, fill: dict, env: dict, cwd: Path, timeout: float) -> Outcome:
        proc = _start(case, case.argv, fill, env, cwd)
        if not _wait_for(Path(out.format(**fill)) / ".lock", proc, timeout):
            return Outcome(proc.wait(), proc.communicate()[1], problem="the run ended before it took its lock")
        time.sleep(after)
        proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return Outcome(None, "", hang=True)
        return Outcome(proc.returncode, err)

    return runner


def kill_then_resume(first: tuple[str, ...], wait_file: str) -> Callable:
    """Runner: start ``first``, ``kill -9`` it once ``wait_file`` exists, then run the case's command."""

    def runner(case: Case, fill: dict, env: dict, cwd: Path, timeout: float) -> Outcome:
        proc = _start(case, first, fill, env, cwd)
        if not _wait_for(Path(wait_file.format(**fill)), proc, timeout):
            return Outcome(proc.wait(), proc.communicate()[1], problem=f"{wait_file} never appeared")
        time.sleep(0.5)
        proc.kill()
        proc.communicate()
        return _call(case, case.argv, fill, env, cwd, timeout)

    return runner


@dataclass(frozen=True)
class Case:
    """One hostile input: a command line (``{placeholders}`` from the fixtures and set-up, ``{case}``
    = this case's temp dir), what a clean answer is, and the files that must survive it."""

    name: str
    category: str
    argv: tuple[str, ...]
    needle: str = ""
    """Text the one error line must hold (the flag or file it names); empty: any error line."""
    expect: str = "refuse"
    """refuse: exit 2 with one error line; ok: exit ``expect_rc`` and ``check`` passing."""
    expect_rc: int = 0
    setup: Setup | None = None
    check: Callable[[Path, dict], str | None] | None = None
    precious: tuple[str, ...] = ()
    """Files that exist before the command and must keep their bytes (or stay the device they are)."""
    not_in: tuple[str, ...] = ()
    """Texts the error line must not hold (a misleading message)."""
    before: tuple[tuple[str, ...], ...] = ()
    shared_cache: bool = False
    timeout: float | None = None
    script: str | None = None
    runner: Callable = run_cli


# ---------------------------------------------------------------- set-ups (each returns extra placeholders)
def chain(*setups: Setup) -> Setup:
    def run(cdir: Path, fill: dict) -> dict:
        extra: dict = {}
        for s in setups:
            extra.update(s(cdir, {**fill, **extra}))
        return extra

    return run


def copy(key: str, as_name: str | None = None) -> Setup:
    """Copy fixture ``{key}`` (a run dir or file) into the case dir; ``{key}_copy`` names the copy."""

    def run(cdir: Path, fill: dict) -> dict:
        src = Path(fill[key])
        dst = cdir / (as_name or src.name)
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, dst)
        return {f"{key}_copy": str(dst)}

    return run


def run_copy(key: str, edit: Callable[[Path], None]) -> Setup:
    """Copy run dir ``{key}`` to ``{case}/run`` and ``edit`` it (craft, damage or remove a file)."""

    def run(cdir: Path, fill: dict) -> dict:
        shutil.copytree(fill[key], cdir / "run")
        edit(cdir / "run")
        return {}

    return run


def crafted(file: str, *, values: dict | None = None, nan: tuple[str, ...] = (), tensors: dict | None = None):
    """An edit for ``run_copy``: ``file`` with JSON values set, tensors NaN or transformed (checksum valid)."""
    fns = {**{k: nan_fill for k in nan}, **(tensors or {})}
    return lambda run: craft_state(run / file, run / file, values=values, tensors=fns)


def damaged(file: str, how: str, marker: str = "") -> Callable[[Path], None]:
    """An edit for ``run_copy``: ``file`` bit-flipped, truncated, emptied, removed or a torch pickle."""

    def edit(run: Path) -> None:
        path = run / file
        if how == "flip":
            bitflip(path, path)
        elif how == "truncate":
            truncate(path, path)
        elif how == "empty":
            path.write_bytes(b"")
        elif how == "remove":
            path.unlink()
        elif how == "pickle":
            torch_pickle(path, marker)
        else:
            raise ValueError(how)

    return edit


def node(name: str, kind: str) -> Setup:
    """A FIFO, a character device equal to /dev/full (made in the case dir, so a regression replaces
    only that), a directory, or a file of precious bytes at ``{case}/name``."""

    def run(cdir: Path, fill: dict) -> dict:
        path = cdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "full":
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
        elif kind == "dir":
            path.mkdir()
        elif kind == "empty":
            path.write_bytes(b"")
        else:
            path.write_bytes(b"precious bytes: " + kind.encode())
        return {}

    return run


def music_cache(how: str) -> Setup:
    """The case's own chorale cache (``{case}/cache/music``) made from the fixture's, damaged ``how``."""

    def run(cdir: Path, fill: dict) -> dict:
        src = next((Path(fill["fx"]) / "cache" / "music").glob("chorales_*.npz"))
        dst = cdir / "cache" / "music" / src.name
        dst.parent.mkdir(parents=True)
        if how == "truncate":
            truncate(src, dst)
        elif how == "garbage":
            dst.write_bytes(np.random.default_rng(1).bytes(5000))
        else:  # lowest_pitch=200 or another field
            field, value = how.split("=")
            with np.load(src, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
            data[field] = np.asarray(int(value))
            with open(dst, "wb") as f:
                np.savez(f, **data)
        return {}

    return run


# ---------------------------------------------------------------- checks
def is_device(name: str) -> Callable[[Path, dict], str | None]:
    def check(cdir: Path, fill: dict) -> str | None:
        mode = (cdir / name).lstat().st_mode if (cdir / name).exists() else 0
        ok = stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)
        return None if ok else f"lost: {name} is no longer the device or FIFO it was"

    return check


def replaced(name: str) -> Callable[[Path, dict], str | None]:
    """An ok-case check: ``{case}/name`` now holds new bytes (a forced overwrite happened)."""

    def check(cdir: Path, fill: dict) -> str | None:
        path = cdir / name
        return None if path.is_file() and not path.read_bytes().startswith(b"precious") else f"{name} not replaced"

    return check


def exists(*names: str) -> Callable[[Path, dict], str | None]:
    def check(cdir: Path, fill: dict) -> str | None:
        missing = [n for n in names if not list(cdir.glob(n))]
        return f"silently wrong: nothing matches {missing}" if missing else None

    return check


def all_cases() -> list[Case]:
    from hostile_table import cases

    out = cases()
    names = [c.name for c in out]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise SystemExit(f"duplicate case names: {sorted(dupes)}")
    return out
