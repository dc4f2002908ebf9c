"""Finite or refused: a state with NaN/inf tensors is never written over the last good file, nor loaded."""

from __future__ import annotations

import pytest
import torch
from conftest import nan_state_bytes

from genplay.generative.core.state_io import NonFiniteState, load_state, save_state


def test_saving_a_nan_tensor_keeps_the_last_good_file(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_state(path, {"step": 1, "w": torch.ones(3)})
    good = path.read_bytes()
    with pytest.raises(NonFiniteState, match=r"checkpoint.pt: state.w holds NaN"):
        save_state(path, {"step": 2, "w": torch.tensor([1.0, float("nan"), 0.0])})
    assert path.read_bytes() == good
    assert load_state(path)["step"] == 1


def test_non_finite_python_floats_still_round_trip(tmp_path):
    save_state(tmp_path / "s", {"best": float("-inf"), "w": torch.zeros(2)})
    assert load_state(tmp_path / "s")["best"] == float("-inf")


def test_a_crafted_file_with_nan_weights_is_refused_by_name(tmp_path):
    path = tmp_path / "model.pt"
    save_state(path, {"net": {"weight": torch.ones(2, 2)}})
    path.write_bytes(nan_state_bytes(path.read_bytes()))
    with pytest.raises(NonFiniteState, match=r"model.pt: state.net.weight holds NaN or inf"):
        load_state(path)


def test_gail_resume_from_a_nan_checkpoint_is_one_error_line(tmp_path, cartpole_demos, capsys):
    from genplay.cli import main
    from genplay.gail.data.demos import save_demos

    demos = tmp_path / "d.npz"
    save_demos(demos, cartpole_demos)
    run = tmp_path / "run"
    base = ["gail", "train", "--env", "CartPole-v1", "--demos", str(demos), "--out", str(run), "--quiet"]
    assert main([*base, "--timesteps", "256", "--n-envs", "1", "--ppo-n-steps", "256", "--bc-epochs", "0"]) == 0
    ckpt = run / "checkpoint.pt"
    ckpt.write_bytes(nan_state_bytes(ckpt.read_bytes()))
    capsys.readouterr()
    assert main([*base, "--timesteps", "512", "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "holds NaN or inf" in err and "checkpoint.pt" in err


def test_a_nan_discriminator_step_stops_before_the_update():
    from genplay.generative.core.checks import NonFiniteError
    from genplay.generative.core.step import discriminator_step

    net = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(net.parameters())
    before = [p.detach().clone() for p in net.parameters()]
    fake = torch.randn(4, 3)
    fake[0, 0] = float("nan")
    with pytest.raises(NonFiniteError, match="discriminator step"):
        discriminator_step(lambda x: net(x).squeeze(-1), opt, torch.randn(4, 3), fake)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))  # the weights are untouched


def test_a_policy_zip_with_nan_weights_is_refused_by_name(tmp_path, capsys):
    """evaluate / demos collect --policy / synth read policies through read_sb3_zip: NaN weights never act."""
    import io
    import zipfile

    from stable_baselines3 import PPO

    from genplay.cli import main
    from genplay.errors import CheckpointError
    from genplay.gail.saving.sb3_zip import read_sb3_zip, save_sb3_zip

    path = tmp_path / "policy.zip"
    save_sb3_zip(PPO("MlpPolicy", "CartPole-v1", n_steps=64, policy_kwargs={"net_arch": [8]}, device="cpu"), path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    weights = torch.load(io.BytesIO(members["policy.pth"]), weights_only=True)
    weights = {k: v.fill_(float("nan")) if v.is_floating_point() else v for k, v in weights.items()}
    blob = io.BytesIO()
    torch.save(weights, blob)
    members["policy.pth"] = blob.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(CheckpointError, match=r"policy.zip: member 'policy.pth': .* holds NaN or inf"):
        read_sb3_zip(path)
    argv = ["evaluate", "--env", "CartPole-v1", "--policy", str(path), "--n-episodes", "1"]
    argv += ["--no-expert", "--no-random"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "holds NaN or inf" in err
