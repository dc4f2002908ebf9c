"""The imitation 1.0.1 harness (scripts/peers/imitation_family.py) reads genplay's demos file faithfully.

It runs in the peers' venv only (imitation pins gymnasium 0.29 and SB3 2.2), so these tests call that
venv's python and are skipped where it is not installed (setup: scripts/peers/README.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from genplay.gail.data.demos import save_demos

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from bench_family import PEER_PYTHON, PEERS  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PEER_PYTHON.exists(), reason="the peers' venv is not installed (scripts/peers/README.md)"),
]

READ = """
import json, sys
sys.path.insert(0, sys.argv[1])
from imitation_family import read_demos
trajs, ret = read_demos(__import__("pathlib").Path(sys.argv[2]), "CartPole-v1")
print(json.dumps({"lengths": [len(t) for t in trajs], "obs": [len(t.obs) for t in trajs],
                  "terminal": [t.terminal for t in trajs], "first_obs": trajs[1].obs[0].tolist(),
                  "acts": trajs[1].acts[:5].tolist(), "return": ret}))
"""


def test_demos_become_imitation_trajectories(tmp_path, cartpole_random_demos):
    demos = cartpole_random_demos
    path = tmp_path / "demos.npz"
    save_demos(path, demos)
    done = subprocess.run(
        [str(PEER_PYTHON), "-c", READ, str(PEERS), str(path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-500:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    lengths = demos.episode_lengths.tolist()
    assert got["lengths"] == lengths and got["obs"] == [n + 1 for n in lengths]
    assert got["terminal"] == demos.terminated.tolist()
    start = lengths[0] + 1  # episode 1's first observation and actions, read from genplay's arrays
    assert got["first_obs"] == pytest.approx(demos.obs[start].tolist())
    assert got["acts"] == demos.acts[lengths[0] : lengths[0] + 5].tolist()
    assert got["return"] == pytest.approx(float(demos.episode_returns().mean()))


def test_demos_of_another_env_are_refused_in_one_line(tmp_path, cartpole_random_demos):
    path = tmp_path / "demos.npz"
    save_demos(path, cartpole_random_demos)
    argv = [str(PEER_PYTHON), str(PEERS / "imitation_family.py"), "--algo", "bc", "--env", "Pendulum-v1"]
    done = subprocess.run(argv + ["--demos", str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: --demos {path}: field 'env_id'")
