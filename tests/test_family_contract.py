"""Every registered algorithm keeps the same run-directory contract through ``genplay train``.

One short run per algorithm on Acrobot-v1 (discrete; the scripted expert makes the demos and
answers DAgger's queries): the run directory holds the same files, ``policy.zip`` loads in SB3
alone and acts, a second run into the directory is refused, ``--resume`` continues to a larger
budget, and ``--resume`` on an empty directory is an error, not a fresh run.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from genplay.cli import main
from genplay.envs.scripted import SCRIPTED_EXPERTS
from genplay.gail.algos.registry import ALGORITHMS
from genplay.gail.data.collect import collect_demos
from genplay.gail.data.demos import save_demos

ENV = "Acrobot-v1"
STEPS = {"gail": 512, "airl": 512, "dac": 400, "sqil": 400, "iq": 400, "dagger": 400, "bc": 1}
SMALL = {  # keep each run to seconds
    "gail": ["--n-envs", "2", "--ppo-n-steps", "128", "--ppo-batch-size", "64", "--bc-epochs", "0"],
    "airl": ["--n-envs", "2", "--ppo-n-steps", "128", "--ppo-batch-size", "64", "--bc-epochs", "0"],
    "dac": ["--dqn-learning-starts", "100", "--dqn-batch-size", "32"],
    "dagger": ["--rounds", "2", "--bc-epochs", "2", "--n-envs", "2"],
    "bc": ["--bc-epochs", "2"],
}


def _sb3_load(zip_path: Path):
    """The SB3 class named in the zip's own ``data`` member, loading it (no genplay code involved)."""
    import sb3_contrib
    import stable_baselines3

    with zipfile.ZipFile(zip_path) as z:
        policy_class = json.loads(z.read("data"))["policy_class"][":serialized:"]
    classes = [stable_baselines3.PPO, stable_baselines3.DQN, stable_baselines3.SAC, sb3_contrib.MaskablePPO]
    for cls in classes:
        try:
            return cls.load(zip_path, device="cpu")
        except Exception:  # noqa: BLE001 - the wrong class for this zip; try the next
            continue
    raise AssertionError(f"no SB3 class loads {zip_path} ({policy_class[:40]}...)")


@pytest.fixture(scope="module")
def demos_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demos") / "acrobot.npz"
    save_demos(path, collect_demos(ENV, SCRIPTED_EXPERTS[ENV], 4, seed=0))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_the_run_directory_contract(algo, tmp_path, demos_file, capsys):
    out = tmp_path / "run"
    base = ["train", "--algo", algo, "--env", ENV, "--demos", str(demos_file), "--out", str(out), "--quiet"]
    base += SMALL.get(algo, [])
    steps = STEPS[algo]
    assert main([*base, "--timesteps", str(steps)]) == 0, capsys.readouterr().err
    files = {p.name for p in out.iterdir()}
    assert {"config.json", "checkpoint.pt", "policy.zip"} <= files, files
    model = _sb3_load(out / "policy.zip")
    action, _ = model.predict(np.zeros(model.observation_space.shape, np.float32), deterministic=True)
    assert model.action_space.contains(np.asarray(action).item())

    capsys.readouterr()
    assert main([*base, "--timesteps", str(steps)]) == 2  # a run is there: refused without --resume/--force
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds a run" in err[0], err
    if algo != "bc":  # BC takes no env steps: there is nothing to continue
        assert main([*base, "--timesteps", str(2 * steps), "--resume"]) == 0, capsys.readouterr().err

    empty = tmp_path / "empty"
    empty.mkdir()
    resume_empty = [a if a != str(out) else str(empty) for a in base]
    assert main([*resume_empty, "--timesteps", str(steps), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert not any(empty.iterdir())
