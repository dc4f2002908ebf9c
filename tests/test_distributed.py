"""torch.distributed data parallelism: 2 gloo ranks step as one process on the concatenated batch.

One ``torchrun`` launch (tests/dist_worker.py) does every check that needs a group; the
single-process pieces (no group, bad splits, a resume with another number of ranks) run here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genplay.errors import DistributedError
from genplay.gail.algos.config import replace
from genplay.gail.algos.presets import preset
from genplay.gail.data.demos import save_demos
from genplay.gail.saving.checkpoint import read_checkpoint
from genplay.generative.core import distributed as D

WORKER = Path(__file__).with_name("dist_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory, cartpole_demos):
    """Run the worker on 2 gloo ranks; the ranks' results and the run dir rank 0 wrote."""
    out = tmp_path_factory.mktemp("dist")
    demos = out / "demos.npz"
    save_demos(demos, cartpole_demos)
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port())]
    proc = subprocess.run(
        [*cmd, str(WORKER), str(demos), str(out)], env=env, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    return ranks, out


def test_not_launched_means_no_group(monkeypatch):
    for key in ("WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    assert D.init_from_env("cpu") is None
    assert D.choose_backend("cpu") == "gloo"


def test_moments_of_one_rank_are_unchanged():
    mean, var = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    assert D.combine_moments(mean, var, 5, None) == (mean, var, 5)


def test_sizes_must_split_over_ranks(cartpole_demos):
    from stable_baselines3.common.env_util import make_vec_env

    from genplay.gail.algos.gail import GAIL

    config = replace(preset("CartPole-v1"), n_envs=3, device="cpu")
    ctx = D.DistContext(rank=0, world_size=2, backend="gloo")
    with pytest.raises(DistributedError, match="n_envs: 3 does not split over 2 ranks"):
        GAIL(venv=make_vec_env("CartPole-v1", n_envs=1), demos=cartpole_demos, config=config, dist=ctx)


@pytest.mark.slow
def test_two_ranks_step_as_one_process(two_ranks):
    ranks, _ = two_ranks
    for r in ranks:
        assert r["world_size"] == 2 and r["backend"] == "gloo"
        assert r["disc_step_diff"] < 1e-6  # discriminator: BCE + R1, clipped, 3 Adam steps
        assert r["policy_step_diff"] < 1e-6  # SB3 policy: gradients averaged before its clip
        assert r["return_scaler_diff"] < 1e-9


@pytest.mark.slow
def test_ranks_stay_replicated_and_rank0_writes(two_ranks):
    ranks, out = two_ranks
    np.testing.assert_allclose(ranks[0]["params"], ranks[1]["params"], atol=1e-6)
    run = out / "run"
    meta = json.loads((run / "config.json").read_text())
    assert meta["world_size"] == 2 and meta["backend"] == "gloo" and meta["run"]["n_envs"] == 2
    state = read_checkpoint(run / "checkpoint.pt")
    assert state["generator"]["meta"]["num_timesteps"] == 128  # 2 ranks x 1 env x 32 steps x 2 rollouts
    assert (run / "policy.zip").is_file()


@pytest.mark.slow
def test_checkpoint_of_two_ranks_resumes_in_one(two_ranks, cartpole_demos):
    from genplay.gail.runs.pipeline import train_gail

    _, out = two_ranks
    trainer = train_gail("CartPole-v1", cartpole_demos, 192, out_dir=out / "run", resume=True)
    assert trainer.num_timesteps == 192 and trainer.gen_algo.batch_size == 32
    assert trainer.return_scaler.running_return.shape == (2,)  # rank 0 stored its 1 env's
    assert json.loads((out / "run" / "config.json").read_text())["world_size"] == 1


def test_each_rank_takes_its_rows_of_the_global_batch_and_its_draw():
    """``rank_rows`` and ``rank_draw`` on rank 1 of 2, without a group: the second half of every batch
    and of the global batch's noise (the fast tier's check; the torchrun tests are slow)."""
    import torch

    ctx = D.DistContext(rank=1, world_size=2, backend="gloo")
    x, y = torch.arange(8).reshape(4, 2), torch.arange(4)
    (mine,) = list(D.rank_rows(iter([(x, y, None)]), ctx))
    assert torch.equal(mine[0], x[2:]) and torch.equal(mine[1], y[2:]) and mine[2] is None
    with pytest.raises(ValueError, match="does not split over 2 ranks"):
        list(D.rank_rows(iter([(x[:3],)]), ctx))
    torch.manual_seed(3)
    whole = torch.randn(6, 5)
    torch.manual_seed(3)
    assert torch.equal(D.rank_draw(torch.randn, (3, 5), "cpu", ctx), whole[3:])


def test_rank_batch_norm_in_a_group_of_one_is_batch_norm(monkeypatch):
    """``RankBatchNorm``'s all-reduced statistics, in a real gloo group of one process: the same
    output, gradients and running statistics as torch's batch norm on the same batch."""
    import torch
    import torch.distributed as dist

    for key, value in {"WORLD_SIZE": "1", "RANK": "0", "MASTER_ADDR": "127.0.0.1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    ctx = D.init_from_env("cpu")
    try:
        assert ctx == D.DistContext(rank=0, world_size=1, backend="gloo")
        ref, synced = torch.nn.BatchNorm1d(3), D.RankBatchNorm(3)
        x = torch.randn(8, 3, requires_grad=True)
        x2 = x.detach().clone().requires_grad_(True)
        y_ref, y_synced = ref(x), synced(x2)
        assert torch.allclose(y_ref, y_synced, atol=1e-6)
        (y_ref * torch.arange(3.0)).sum().backward()
        (y_synced * torch.arange(3.0)).sum().backward()
        assert torch.allclose(x.grad, x2.grad, atol=1e-6)
        for name in ("running_mean", "running_var"):
            assert torch.allclose(getattr(ref, name), getattr(synced, name), atol=1e-6), name
        assert torch.allclose(ref.eval()(x), synced.eval()(x), atol=1e-6)
    finally:
        D.shutdown()
    assert not dist.is_initialized()
