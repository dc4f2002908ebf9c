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
from collections.abc import Callable, Iterable, Iterator
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
    """Wait for every rank (no-op without a group)."""
    if ctx is not None and ctx.world_size > 1:
        dist.barrier()


def _device(ctx: DistContext) -> str:
    return "cuda" if ctx.backend == "nccl" else "cpu"


def mean_over_ranks(values: dict[str, float], ctx: DistContext | None) -> dict[str, float]:
    """Each value averaged over all ranks (logged statistics of every rank's share); one all-reduce."""
    if ctx is None or ctx.world_size == 1 or not values:
        return dict(values)
    t = torch.tensor([float(v) for v in values.values()], dtype=torch.float64, device=_device(ctx))
    dist.all_reduce(t)
    return {k: float(v) / ctx.world_size for k, v in zip(values, t.cpu())}


def rank_rows(batches: Iterator, ctx: DistContext | None) -> Iterator:
    """This rank's rows ``[rank * k, (rank + 1) * k)`` of every global batch (a tuple of tensors or ``None``).

    Every rank iterates the same seeded global stream (the same permutation), so the shares
    of one batch are disjoint and together are exactly the batch one process would draw.
    """
    if ctx is None or ctx.world_size == 1:
        yield from batches
        return
    for batch in batches:
        k = len(batch[0]) // ctx.world_size
        if k == 0 or len(batch[0]) % ctx.world_size:
            raise ValueError(f"a batch of {len(batch[0])} rows does not split over {ctx.world_size} ranks")
        rows = slice(ctx.rank * k, (ctx.rank + 1) * k)
        yield tuple(t[rows] if t is not None else None for t in batch)


def rank_draw(
    draw: Callable[..., torch.Tensor], shape: tuple[int, ...], device: torch.device | str, ctx: DistContext | None
) -> torch.Tensor:
    """``draw(shape)`` (``torch.randn``, ``torch.rand``); on N ranks each draws the global batch's
    ``(shape[0] * N, ...)`` and keeps its ``shape[0]`` rows.

    Ranks seeded alike then use exactly the random numbers one process would use on the whole batch.
    """
    if ctx is None or ctx.world_size == 1:
        return draw(shape, device=device)
    n = shape[0]
    return draw((n * ctx.world_size, *shape[1:]), device=device)[ctx.rank * n : (ctx.rank + 1) * n]


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) whose backward sums the output gradients over ranks too (each rank's
    input feeds every rank's output)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class RankBatchNorm(torch.nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are those of the global batch (all ranks' rows).

    ``torch.nn.SyncBatchNorm`` needs a GPU; this one all-reduces (sum, sum of squares,
    count) with a differentiable all-reduce, so the gradient also flows through the other
    ranks' rows, as in one process on the concatenated batch.
    Parameters and buffers are batch norm's own: state dicts load either way.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {x.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        dims = [d for d in range(x.dim()) if d != 1]
        count = torch.full((1,), x.numel() / x.shape[1], dtype=x.dtype, device=x.device)
        total = _SumOverRanks.apply(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        c, n = x.shape[1], total[-1]
        mean = total[:c] / n
        var = (total[c : 2 * c] / n - mean * mean).clamp_min(0.0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1), alpha=m)
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


def sync_batch_norm(module: torch.nn.Module, ctx: DistContext | None) -> torch.nn.Module:
    """``module`` with every batch-norm layer normalising over the global batch (unchanged on one process)."""
    if ctx is None or ctx.world_size == 1:
        return module
    for name, child in module.named_children():
        if isinstance(child, torch.nn.modules.batchnorm._BatchNorm) and not isinstance(child, RankBatchNorm):
            c = child
            synced = RankBatchNorm(c.num_features, c.eps, c.momentum, c.affine, c.track_running_stats)
            synced.load_state_dict(child.state_dict())
            synced.to(next(iter(child.state_dict().values())).device)
            synced.train(child.training)
            setattr(module, name, synced)
        else:
            sync_batch_norm(child, ctx)
    return module
