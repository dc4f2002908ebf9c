"""Run directories: one writer at a time (an exclusive lock), and no silent overwrite of a run.

``with RunDirLock(out):`` holds a non-blocking ``fcntl.flock`` on ``out/.lock`` for the
whole run; a second run into the same directory gets one ``RunDirError`` naming the
directory and the holder's pid instead of interleaving its files with the first's. The
kernel drops the lock when the holder exits, however it exits, so a killed run never
leaves a stale lock behind.

``check_run_dir`` refuses to start a fresh run where one already is (unless resumed or
forced); ``check_dir_writable`` / ``check_file_writable`` turn unusable output paths
into one line before any work starts. ``run_dir_session`` wraps all of it (plus ``--resume``
without a checkpoint refused, and a failed first step undone) for the modality trainers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from genplay.errors import RunDirError

LOCK_NAME = ".lock"


class RunDirLock:
    """Exclusive, non-blocking lock on a run directory (created if missing)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> RunDirLock:
        check_dir_writable(self.path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunDirError(f"{self.path}: cannot create the run directory ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise RunDirError(
                f"{self.path}: another run (pid {holder}) is writing to this directory; wait for it or choose another"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def holds_run(path: str | os.PathLike, markers: tuple[str, ...]) -> bool:
    """Whether ``path`` already holds (part of) a run: any of ``markers`` exists in it."""
    path = Path(path)
    return path.is_dir() and any((path / m).exists() for m in markers)


def check_run_dir(path: str | os.PathLike, markers: tuple[str, ...], *, resume: bool, force: bool) -> None:
    """Refuse a fresh run into a directory that holds one, unless ``resume`` or ``force``."""
    if holds_run(path, markers) and not (resume or force):
        found = [m for m in markers if (Path(path) / m).exists()]
        raise RunDirError(
            f"{path}: already holds a run ({', '.join(found)}); pass --resume to continue it "
            "or --force to start over in it"
        )


def _first_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe(base: Path) -> str | None:
    """Why a file cannot be created in directory ``base`` (tried for real: root ignores permission bits)."""
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".genplay-probe.", dir=base)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    os.close(fd)
    os.remove(tmp)
    return None


def check_dir_writable(path: str | os.PathLike) -> None:
    """One ``RunDirError`` if ``path`` cannot be (created as) a writable directory."""
    path = Path(path)
    if str(path) == "":
        raise RunDirError("the output directory is empty")
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path}: is a file, expected a directory")
    base = _first_existing(path)
    if not base.is_dir():
        raise RunDirError(f"{path}: {base} is a file, so this directory cannot be created")
    why = _probe(base)
    if why:
        raise RunDirError(f"{path}: not writable ({base}: {why})")


def check_file_writable(path: str | os.PathLike) -> None:
    """One ``RunDirError`` if ``path`` cannot be written as a file (a directory, an unwritable place)."""
    path = Path(path)
    if str(path) in ("", "."):
        raise RunDirError("the output file name is empty")
    if path.is_dir():
        raise RunDirError(f"{path}: is a directory, expected a file name")
    if path.exists() and not path.is_file():  # a device or FIFO: writing would block, or replace it
        raise RunDirError(f"{path}: exists and is not a regular file; refusing to replace it")
    if path.exists() and not os.access(path, os.W_OK):
        raise RunDirError(f"{path}: not writable")
    base = _first_existing(path.parent)
    if not base.is_dir():
        raise RunDirError(f"{path}: {base} is a file, so this path cannot be created")
    why = _probe(base)
    if why:
        raise RunDirError(f"{path}: not writable ({base}: {why})")


def check_resume(path: str | os.PathLike, checkpoint: str, *, resume: bool, flag: str = "--out") -> None:
    """``--resume`` needs a checkpoint to continue from: without one it is an error, never a fresh run."""
    if resume and not (Path(path) / checkpoint).is_file():
        raise RunDirError(
            f"{flag}: {path}: --resume, but there is no {checkpoint} to continue from; "
            "drop --resume to start a fresh run"
        )


def _snapshot(path: Path) -> tuple[bool, set[str]]:
    return path.is_dir(), ({p.name for p in path.iterdir()} if path.is_dir() else set())


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


@contextlib.contextmanager
def run_dir_session(
    path: str | os.PathLike,
    markers: tuple[str, ...],
    *,
    checkpoint: str,
    resume: bool,
    force: bool,
    lock: bool = True,
    flag: str = "--out",
) -> Iterator[Path]:
    """The trainer's run-directory contract, the same for every modality (and GAIL's rules).

    Before any work: the directory must be writable, must not hold a run (``markers``) unless
    ``resume`` or ``force``, and ``resume`` needs ``checkpoint``. During the run: an exclusive
    lock (skipped with ``lock=False``, e.g. on torchrun ranks other than 0). If the run fails
    before writing its first checkpoint, the files it added are removed (and the directory, if
    it made it), so a failed first step leaves the directory as it found it; once a checkpoint
    is written it is the last good state and everything is kept.
    """
    path = Path(path)
    try:
        check_dir_writable(path)
        check_run_dir(path, markers, resume=resume, force=force)
    except RunDirError as exc:
        raise RunDirError(f"{flag}: {exc}") from None
    check_resume(path, checkpoint, resume=resume, flag=flag)
    existed, before = _snapshot(path)
    stamp = _stamp(path / checkpoint)
    holder = RunDirLock(path) if lock else contextlib.nullcontext()
    try:
        with holder:
            yield path
    except BaseException:
        if lock and _stamp(path / checkpoint) == stamp:  # no new checkpoint: undo what this run added
            _, after = _snapshot(path)
            for name in sorted(after - before):
                target = path / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    target.unlink(missing_ok=True)
            if not existed:
                with contextlib.suppress(OSError):
                    path.rmdir()
        raise
