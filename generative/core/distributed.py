"""Data-parallel training on ``torch.distributed``: launch detection, gradient averaging, stat reduction.

A run launched by ``torchrun`` (``WORLD_SIZE``/``RANK`` in the environment) gets a
:class:`DistContext`; anything else gets ``None`` and every helper here is then never
called, so a single-process run does exactly what it did before. Trainers hold the
context they are given (no module-level state of ours; the process group itself is
torch's). Gradients are averaged with one flat ``all_reduce`` per step (the
discriminator) or by a hook that queues one flat all-reduce at the end of each backward
(an SB3 policy, whose own ``train`` clips the gradient norm between backward and step:
the average comes first, so the clip sees the global gradient, as in one process).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """This process's place in a data-parallel group."""

    rank: int
    world_size: int
    backend: str

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes logs, checkpoints and exports."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """True when torchrun (or any launcher setting the env:// variables) started this process."""
    return all(k in os.environ for k in ("WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT"))


def choose_backend(device: str | torch.device = "auto") -> str:
    """nccl when the run trains on CUDA (and nccl exists), else gloo."""
    dev = str(device)
    cuda = torch.cuda.is_available() and (dev == "auto" or dev.startswith("cuda"))
    return "nccl" if cuda and dist.is_nccl_available() else "gloo"


def init_from_env(device: str | torch.device = "auto") -> DistContext | None:
    """Join the torchrun group (once per process); ``None`` when not launched by torchrun."""
    if not launched_by_torchrun():
        return None
    if not dist.is_initialized():
        backend = choose_backend(device)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend=backend)
    return DistContext(dist.get_rank(), dist.get_world_size(), dist.get_backend())


def shutdown() -> None:
    """Leave the process group (no-op when none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _flat_grads(params: list[torch.nn.Parameter]) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])


def allreduce_grads(params: Iterable[torch.nn.Parameter], ctx: DistContext) -> None:
    """Average the gradients of ``params`` over all ranks in one flat all-reduce.

    A parameter without a gradient on this rank counts as zero (its loss did not use it);
    one no rank's loss used keeps no gradient (an optimiser skips it, as in one process).
    Afterwards every rank holds the same gradients, so identical optimisers stay identical.
    """
    params = [p for p in params if p.requires_grad]
    if ctx.world_size == 1 or not params:
        return
    flat = _flat_grads(params)
    used = torch.tensor([float(p.grad is not None) for p in params], dtype=flat.dtype, device=flat.device)
    flat = torch.cat([flat, used])
    dist.all_reduce(flat)
    flat /= ctx.world_size
    offset, any_rank = 0, flat[-len(params) :].tolist()
    for i, p in enumerate(params):
        n = p.numel()
        if any_rank[i] > 0:
            p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


@contextlib.contextmanager
def averaged_gradients(module: torch.nn.Module, ctx: DistContext | None) -> Iterator[None]:
    """While inside, every backward through ``module`` averages its parameters' gradients over ranks.

    For modules whose training loop is not ours (an SB3 policy): the averaging happens at
    the end of backward (one flat all-reduce, queued by the first gradient hook, as DDP
    does), before any clip or optimiser step the loop takes. A parameter no rank's loss
    used keeps no gradient (an optimiser skips it, as in one process). Every rank must run
    the same number of backward passes while inside.
    """
    if ctx is None or ctx.world_size == 1:
        yield
        return
    params = [p for p in module.parameters() if p.requires_grad]
    queued = [False]

    def reduce() -> None:
        queued[0] = False
        allreduce_grads(params, ctx)

    def hook(_: torch.Tensor) -> None:
        if not queued[0]:
            queued[0] = True
            torch.autograd.Variable._execution_engine.queue_callback(reduce)

    handles = [p.register_post_accumulate_grad_hook(hook) for p in params]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def broadcast_module(module: torch.nn.Module, ctx: DistContext | None, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers to every rank (identical starting points)."""
    if ctx is None or ctx.world_size == 1:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src)


def combine_moments(mean: np.ndarray, var: np.ndarray, count: float, ctx: DistContext | None):
    """Mean, variance and count of the union of every rank's batch (Chan et al.'s parallel formula).

    Each rank passes its own batch's moments; all get the global ones, equal (within float
    error) to the moments of the concatenated batch.
    """
    if ctx is None or ctx.world_size == 1:
        return mean, var, count
    mean, var = np.asarray(mean, np.float64), np.asarray(var, np.float64)
    packed = torch.from_numpy(np.concatenate([[count], (count * mean).ravel(), (count * (var + mean**2)).ravel()]))
    device = "cuda" if ctx.backend == "nccl" else "cpu"
    packed = packed.to(device)
    dist.all_reduce(packed)
    packed = packed.cpu()
    total = float(packed[0])
    k = mean.size
    g_mean = (packed[1 : 1 + k].numpy() / total).reshape(mean.shape)
    g_var = (packed[1 + k :].numpy() / total).reshape(mean.shape) - g_mean**2
    return g_mean, np.maximum(g_var, 0.0), total


def sum_over_ranks(values: list[int], ctx: DistContext) -> list[int]:
    """Element-wise sums of small integer counts over all ranks."""
    if ctx.world_size == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.int64, device="cuda" if ctx.backend == "nccl" else "cpu")
    dist.all_reduce(t)
    return [int(v) for v in t.cpu()]


def broadcast_object(obj, ctx: DistContext | None, src: int = 0):
    """Rank ``src``'s picklable ``obj`` on every rank (used for status messages, never for untrusted data)."""
    if ctx is None or ctx.world_size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src)
    return box[0]


def barrier(ctx: DistContext | None) -> None:
    if ctx is not None and ctx.world_size > 1:
        dist.barrier()
