"""Run a suite's independent jobs locally, one after another, or as Ray tasks (``--ray [ADDRESS]``).

Ray is used as it is: each job is a ``ray.remote`` task with its own ``num_cpus`` /
``num_gpus``, retried by Ray (``max_retries``, ``retry_exceptions=True``), and results are
collected with ``ray.wait`` as they finish. A job that still fails after its retries comes
back as a :class:`JobResult` with its error, never dropped; the caller reports it.

Without ``--ray`` nothing here imports Ray, and a job's exception propagates as it always did.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from genplay.errors import GenplayError

LOCAL = "local"
"""``--ray`` with no address: start a Ray instance on this machine."""
DEFAULT_RETRIES = 2
RAY_EXTRA = "pip install 'genplay[ray]'"


@dataclass(frozen=True)
class Job:
    """One unit of a suite: a label for reports, the keyword arguments of the job function, its resources."""

    label: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    num_cpus: float = 1.0
    num_gpus: float = 0.0


@dataclass
class JobResult:
    """What one job returned, or (``ok`` False) the error it failed with after ``attempts`` tries."""

    job: Job
    value: Any = None
    error: str | None = None
    attempts: int | None = None
    """Tries a failed job had (its first and every retry); None for a job that succeeded."""

    @property
    def ok(self) -> bool:
        return self.error is None


def import_ray() -> Any:
    """``ray``, or a one-line :class:`GenplayError` naming ``--ray`` and the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise GenplayError(f"--ray: Ray is not installed; {RAY_EXTRA}") from None
    return ray


def run_jobs(
    fn: Callable[..., Any],
    jobs: Sequence[Job],
    *,
    ray_address: str | None = None,
    max_retries: int = DEFAULT_RETRIES,
    on_done: Callable[[JobResult], None] | None = None,
) -> list[JobResult]:
    """``fn(**job.kwargs)`` for every job, results in the order of ``jobs``.

    ``ray_address`` None: in this process, in order, exceptions propagate (the local path).
    ``"local"``: a Ray instance started here (or the one this process already joined);
    anything else: the address of a running cluster. ``on_done`` sees each result as it lands.
    """
    if ray_address is None:
        results = []
        for job in jobs:
            results.append(JobResult(job, fn(**job.kwargs)))
            if on_done is not None:
                on_done(results[-1])
        return results
    ray = import_ray()
    with contextlib.redirect_stdout(sys.stderr):  # Ray's driver prints retry notices to stdout: keep it for results
        started = connect(ray, ray_address)
        try:
            return _run_ray(ray, fn, jobs, max_retries, on_done)
        finally:
            if started:
                ray.shutdown()


def connect(ray: Any, address: str) -> bool:
    """Join Ray at ``address`` (``"local"``: start one with this machine's CPUs); True if this call started it."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    if address == LOCAL:
        kwargs.update(address="local", num_cpus=os.cpu_count() or 1)
    else:
        kwargs["address"] = address
        reachable(address)
    with _held_stderr() as held:  # Ray's C++ client logs each failed try to fd 2, past Python's logging
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            held.drop()  # the error line says what happened
            raise GenplayError(f"--ray {address}: cannot connect to Ray: {exc}") from None
    return True


class _held_stderr(contextlib.AbstractContextManager):  # noqa: N801
    """Hold what is written to file descriptor 2 inside the block; write it out at the end unless dropped."""

    def __enter__(self) -> _held_stderr:
        import tempfile

        sys.stderr.flush()
        self._file = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        self._keep = True
        return self

    def drop(self) -> None:
        self._keep = False

    def __exit__(self, *exc: object) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        if self._keep:
            self._file.seek(0)
            sys.stderr.write(self._file.read().decode(errors="replace"))
        self._file.close()


CONNECT_TIMEOUT_S = 5.0


def reachable(address: str) -> None:
    """Refuse a ``HOST:PORT`` address nothing answers on within a few seconds: ``ray.init`` retries an
    unreachable cluster for minutes. ``auto`` and ``ray://`` addresses are left to Ray."""
    import socket

    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise GenplayError(f"--ray {address}: expected HOST:PORT (e.g. 10.0.0.5:6379), auto, or nothing for local")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise GenplayError(f"--ray {address}: no Ray head answers there ({why}, {CONNECT_TIMEOUT_S:g} s)") from None


def _run_ray(ray: Any, fn: Callable[..., Any], jobs: Sequence[Job], max_retries: int, on_done) -> list[JobResult]:
    remote = ray.remote(fn)
    pending: dict[Any, int] = {}
    for i, job in enumerate(jobs):
        task = remote.options(
            num_cpus=job.num_cpus, num_gpus=job.num_gpus, max_retries=max_retries, retry_exceptions=True
        )
        pending[task.remote(**job.kwargs)] = i
    results: list[JobResult | None] = [None] * len(jobs)
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        i = pending.pop(done[0])
        try:
            results[i] = JobResult(jobs[i], ray.get(done[0]))
        except Exception as exc:  # the job's own error (RayTaskError) or a lost worker, after Ray's retries
            cause = getattr(exc, "cause", None) or exc
            error = f"{type(cause).__name__}: {' '.join(str(cause).split())}"
            results[i] = JobResult(jobs[i], error=error[:500], attempts=max_retries + 1)
        if on_done is not None:
            on_done(results[i])
    return [r for r in results if r is not None]  # every slot is filled by now


def run_script(argv: list[str], cwd: str | None = None) -> dict[str, Any]:
    """A job that runs ``python *argv`` (a benchmark script) and returns its last line as JSON.

    A subprocess per job keeps each run as it is when started by hand (its own torch threads,
    memory and exit); a non-zero exit or no JSON line raises, so Ray retries it.
    """
    import json
    import subprocess

    proc = subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = " ".join(proc.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {tail or 'no JSON line'}")
    return json.loads(lines[-1])


def failures(results: Sequence[JobResult]) -> list[dict[str, Any]]:
    """The failed jobs, as JSON-ready rows (label, error, attempts)."""
    return [{"job": r.job.label, "error": r.error, "attempts": r.attempts} for r in results if not r.ok]
