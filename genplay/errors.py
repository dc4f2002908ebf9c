"""Errors for bad user input. The CLI prints them as one line, never as a traceback."""


class GenplayError(Exception):
    """Base class: a user-facing problem with a message that says what to fix."""


class DemoError(GenplayError, ValueError):
    """A demonstrations file is missing, corrupt, or does not match the target env."""


class EnvError(GenplayError, ValueError):
    """An environment id is unknown or an env is unsuitable for the requested use."""


class CheckpointError(GenplayError, ValueError):
    """A checkpoint or saved policy cannot be read or does not match the run."""


class RunDirError(GenplayError, ValueError):
    """An output path is unusable, or a run directory is busy or already holds a run."""


class DistributedError(GenplayError, ValueError):
    """A run's settings do not fit its torchrun group (sizes that do not split over the ranks)."""


class JobsFailed(Exception):
    """Some suite jobs failed after their retries (``--ray``); the results written list them. Exit code 1."""

    def __init__(self, failed: list[dict], where: object) -> None:
        first = failed[0]
        super().__init__(
            f"{len(failed)} job(s) failed after their retries, e.g. {first['job']} ({first['error']}); "
            f"the rest of the suite is in {where}, with the failures under 'failed'"
        )
        self.failed = failed
