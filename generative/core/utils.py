"""Helpers every trainer needs: seeding, device choice, EMA weights, atomic writes."""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy's global RNG and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Torch's RNG seeded to ``seed`` for a block and restored after it (``torch.random.fork_rng``).

    Constructors build their networks under it: the weights depend on the seed alone and the
    caller's RNG state is left as it was (a library must not reseed its user's program).
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def select_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA when present, else CPU; any torch device string passes through."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def set_torch_threads(n: int | None) -> None:
    """Cap intra-op threads: small nets on 2 cores run fastest on one thread."""
    if n is not None and n > 0:
        torch.set_num_threads(n)


class EMA:
    """Exponential moving average of a module's weights (Polyak averaging), on torch's ``AveragedModel``.

    ``ema.update()`` after each optimiser step; ``ema.module`` is the averaged copy,
    used for sampling/evaluation in GANs. Buffers (batch-norm statistics) are copied, not
    averaged. A thin wrapper: torch's ``AveragedModel`` with ``get_ema_multi_avg_fn``
    does the averaging; this class only fixes the start (the copy at construction) and
    keeps the averaged copy out of autograd.
    """

    def __init__(self, module: torch.nn.Module, decay: float = 0.999) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.source = module
        self.averaged = AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=False)
        self.averaged.update_parameters(module)  # the first call copies: averaging starts from the source
        self.averaged.eval().requires_grad_(False)

    @property
    def module(self) -> torch.nn.Module:
        return self.averaged.module

    @torch.no_grad()
    def update(self) -> None:
        self.averaged.update_parameters(self.source)
        for ema_b, b in zip(self.module.buffers(), self.source.buffers()):
            ema_b.copy_(b)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "module": self.module.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.decay = state["decay"]
        self.module.load_state_dict(state["module"])


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers never see a half file.

    The temp file sits next to ``path`` (same file system, so the rename is atomic). A
    ``path`` that exists and is not a regular file (a directory, a device such as
    ``/dev/full``, a FIFO) is refused before anything is written: a rename would replace it.
    """
    from genplay.errors import GenplayError

    path = Path(path)
    if path.exists() and not path.is_file():
        raise GenplayError(f"{path}: exists and is not a regular file; give a file path to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(exc, OSError) and exc.filename == tmp:  # name the target, not the hidden temp file
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
