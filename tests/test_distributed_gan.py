"""Data-parallel GANs: 2 gloo ranks on half batches step as 1 process on the whole batch.

One ``torchrun`` launch (tests/dist_gan_worker.py) runs every check that needs a group; the
resume of its 2-rank checkpoint on 1 process runs here.

The negative control is a run, not a test (a second torchrun launch cost ~8 s a suite): with the
all-reduce switched off (``GENPLAY_NO_AVERAGE=1`` in the worker's environment, ``launch(out,
GENPLAY_NO_AVERAGE="1")``) every check fails, by 1.5e-4 (music) to 4.1e-3 (DCGAN) against the 1e-5
tolerance (2026-12-07).
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

from genplay.errors import GenplayError
from genplay.generative.core.state_io import load_state

WORKER = Path(__file__).with_name("dist_gan_worker.py")
TOL = 1e-5  # float32 sums in another order, through a few Adam steps


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(out: Path, **extra_env: str) -> list[dict]:
    """Run the worker on 2 gloo ranks into ``out``; every rank's results."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", **extra_env)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port())]
    proc = subprocess.run([*cmd, str(WORKER), str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist_gan")
    return launch(out), out


@pytest.mark.parametrize("model", ["dcgan", "cgan", "wgan-gp"])
@pytest.mark.slow
def test_two_ranks_step_as_one_process(two_ranks, model):
    ranks, _ = two_ranks
    for r in ranks:
        assert r["world_size"] == 2 and r["backend"] == "gloo"
        assert r[model]["diff"] < TOL  # generator (batch norm over the global batch), critic, EMA
    np.testing.assert_allclose(ranks[0][model]["params"], ranks[1][model]["params"], atol=1e-6)


@pytest.mark.slow
def test_music_two_ranks_step_as_one_process(two_ranks):
    for r in two_ranks[0]:
        assert r["music_diff"] < TOL  # WGAN-GP: interpolation weights are rows of the global draw


@pytest.mark.slow
def test_rank0_writes_and_history_is_global(two_ranks):
    ranks, out = two_ranks
    run = out / "run"
    meta = json.loads((run / "model.json").read_text())
    assert meta["world_size"] == 2 and meta["backend"] == "gloo" and meta["config"]["batch_size"] == 16
    assert ranks[0]["run_history"] == [{**r, "seconds": ranks[0]["run_history"][i]["seconds"]}
                                       for i, r in enumerate(ranks[1]["run_history"])]  # fmt: skip


@pytest.mark.slow
def test_checkpoint_of_two_ranks_resumes_in_one(two_ranks, tmp_path):
    from dist_gan_worker import gan_vector, tiny_data, tiny_gan

    _, out = two_ranks
    data = tiny_data()
    one = tiny_gan("dcgan", 2)  # the same 2 rounds in one process, then the same resume
    one.train(data, out_dir=tmp_path, log_every=1)
    assert load_state(tmp_path / "checkpoint.pt")["world_size"] == 1
    resumed = {}
    for name, ckpt in (("two", out / "run" / "checkpoint.pt"), ("one", tmp_path / "checkpoint.pt")):
        gan = tiny_gan("dcgan", 4)
        gan.load_checkpoint(ckpt)
        assert gan.step == 2
        gan.train(data, log_every=1)
        resumed[name] = gan_vector(gan)
    assert float((resumed["two"] - resumed["one"]).abs().max()) < TOL


def test_batch_must_split_over_ranks():
    from genplay.generative.core.distributed import DistContext
    from genplay.generative.images.trainer import ImageGAN, preset

    ctx = DistContext(rank=0, world_size=3, backend="gloo")
    with pytest.raises(GenplayError, match="--batch-size: 16 does not split over 3 ranks"):
        ImageGAN(config=preset("dcgan", batch_size=16, device="cpu"), image_shape=(1, 8, 8), n_classes=4, dist=ctx)
