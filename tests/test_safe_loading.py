"""Loading never runs code from a file: checkpoints, policy zips and demos, each with a crafted
malicious file; damaged checkpoints are refused; run directories are locked; resume refuses changes."""

from __future__ import annotations

import base64
import csv
import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch
from malicious import Payload
from sb3_contrib import MaskablePPO
from sb3_contrib.common.wrappers import ActionMasker
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from genplay.errors import CheckpointError, DemoError, RunDirError
from genplay.gail.algos.config import GAILConfig, PPOConfig, replace
from genplay.gail.algos.gail import GAIL
from genplay.gail.algos.presets import preset
from genplay.gail.data.collect import collect_demos
from genplay.gail.data.demos import load_demos
from genplay.gail.data.experts import expert_path, load_expert
from genplay.gail.runs.pipeline import train_gail
from genplay.gail.saving.checkpoint import read_checkpoint
from genplay.gail.saving.run_files import load_policy
from genplay.gail.saving.sb3_io import algo_from_state, algo_state
from genplay.gail.saving.sb3_zip import load_sb3_zip, save_sb3_zip
from genplay.generative.core.rundir import RunDirLock
from genplay.generative.core.state_io import load_state, save_state, state_from_bytes, state_to_bytes

ENV = "CartPole-v1"


def tiny_config(**changes) -> GAILConfig:
    base = dict(
        n_envs=2, ppo_n_steps=64, ppo_batch_size=64, ppo_n_epochs=1, ppo_net_arch=(16,), disc_hidden=(16,),
        disc_batch_size=32, disc_updates=1, checkpoint_every=0, bc_epochs=0, device="cpu",
    )  # fmt: skip
    return replace(preset(ENV), **{**base, **changes})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, cartpole_demos):
    out = tmp_path_factory.mktemp("safe") / "run"
    trainer = train_gail(ENV, cartpole_demos, 256, config=tiny_config(), out_dir=out)
    return out, trainer


class _Kill(BaseCallback):
    def _on_step(self) -> bool:
        raise KeyboardInterrupt("simulated kill")


def _all(env) -> np.ndarray:
    return np.ones(2, dtype=bool)


def _same_params(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---------------------------------------------------------------------------- state_io


def test_state_io_round_trips_nested_values(tmp_path):
    rng = np.random.default_rng(7)
    rng.integers(10, size=3)
    state = {
        "t": torch.randn(3, 2),
        "a": np.arange(6, dtype=np.uint8).reshape(2, 3),
        "empty": np.zeros((0, 4), np.float32),
        "b": b"\x00raw bytes",
        "opt": {"state": {0: {"step": torch.tensor(3.0)}}, "param_groups": [{"params": [0], "betas": (0.9, 0.999)}]},
        "floats": [float("nan"), float("inf"), -0.0, 1e-300],
        "__dunder": {"x": None},
        "rng": rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "scalar": np.float32(2.5),
    }
    save_state(tmp_path / "s.ckpt", state)
    back = load_state(tmp_path / "s.ckpt")
    assert torch.equal(back["t"], state["t"]) and back["a"].dtype == np.uint8
    np.testing.assert_array_equal(back["a"], state["a"])
    assert back["empty"].shape == (0, 4) and back["b"] == state["b"]
    assert back["opt"]["state"][0]["step"] == 3.0 and back["opt"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert np.isnan(back["floats"][0]) and back["floats"][1:] == [float("inf"), -0.0, 1e-300]
    assert back["__dunder"] == {"x": None} and back["scalar"] == 2.5
    other = np.random.default_rng(0)
    other.bit_generator.state = back["rng"]
    assert other.integers(1 << 40) == rng.integers(1 << 40)
    assert torch.equal(back["torch_rng"], state["torch_rng"])


def test_state_io_refuses_objects_it_cannot_store_as_data():
    with pytest.raises(TypeError, match="state.x"):
        state_to_bytes({"x": object()})
    with pytest.raises(TypeError, match="dtype object"):
        state_to_bytes({"x": np.array([None], dtype=object)})


def test_state_io_checksum_refuses_edited_json(tmp_path):
    """A consistent zip (CRCs fine) whose JSON was edited after writing fails the sha256."""
    data = state_to_bytes({"lr": 0.001, "w": torch.ones(2)})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["state.json"] = members["state.json"].replace(b"0.001", b"1000.")
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    path = tmp_path / "edited.ckpt"
    path.write_bytes(blob.getvalue())
    with pytest.raises(CheckpointError, match="checksum mismatch") as info:
        load_state(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_any_single_flipped_byte_is_refused_or_harmless():
    """Every byte of a small state file, flipped in turn: a CheckpointError, or (bytes outside the
    payload, e.g. zip timestamps) the very same state; never another exception, never other values."""
    state = {"w": torch.arange(6, dtype=torch.float32), "cfg": {"lr": 0.001, "layers": (64, 64)}, "b": b"xy"}
    data = state_to_bytes(state)
    for i in range(len(data)):
        raw = bytearray(data)
        raw[i] ^= 0x5A
        try:
            back = state_from_bytes(bytes(raw), "f")
        except CheckpointError as exc:
            assert str(exc).startswith("f: ") and "\n" not in str(exc)
            continue
        assert torch.equal(back["w"], state["w"]) and back["cfg"] == state["cfg"] and back["b"] == state["b"], i


@pytest.mark.parametrize("damage", ["flip-json", "flip-tensors", "truncate", "zero-tail"])
def test_damaged_checkpoint_bytes_are_refused(run_dir, tmp_path, damage):
    out, _ = run_dir
    raw = bytearray((out / "checkpoint.pt").read_bytes())
    if damage == "flip-json":
        i = raw.index(b'"history"')
        raw[i + 20] ^= 0x01
    elif damage == "flip-tensors":
        i = raw.index(b"tensors.safetensors") + 400
        raw[i : i + 8] = bytes(b ^ 0x40 for b in raw[i : i + 8])
    elif damage == "truncate":
        raw = raw[: len(raw) - 100]
    else:
        raw[-200:] = bytes(200)
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------------------- malicious files


def test_pickled_checkpoint_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pt"
    torch.save({"version": 2, "evil": Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="checkpoint.pt"):
        read_checkpoint(path)
    # even a state file cannot smuggle a pickle: its JSON is data and its tensors are safetensors
    evil = state_to_bytes({"format": "genplay-gail-checkpoint", "blob": pickle.dumps(Payload(marker))})
    assert isinstance(state_from_bytes(evil)["blob"], bytes)
    assert not marker.exists()


def _rewrite_zip(src: bytes, replace_members: dict[str, bytes], drop: tuple[str, ...] = ()) -> bytes:
    with zipfile.ZipFile(io.BytesIO(src)) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n not in drop}
    members.update(replace_members)
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    return blob.getvalue()


def _evil_data(src: bytes, marker) -> bytes:
    """SB3's ``data`` JSON with every ``:serialized:`` field replaced by a payload that creates ``marker``."""
    with zipfile.ZipFile(io.BytesIO(src)) as zf:
        data = json.loads(zf.read("data"))
    evil = base64.b64encode(pickle.dumps(Payload(marker))).decode()
    for value in data.values():
        if isinstance(value, dict) and ":serialized:" in value:
            value[":serialized:"] = evil
    return json.dumps(data).encode()


@pytest.mark.parametrize("keep_genplay_json", [True, False])
def test_policy_zip_with_malicious_serialized_fields_loads_safely(run_dir, tmp_path, keep_genplay_json):
    out, trainer = run_dir
    marker = tmp_path / "pwned"
    src = (out / "policy.zip").read_bytes()
    drop = () if keep_genplay_json else ("genplay.json",)
    path = tmp_path / "evil.zip"
    path.write_bytes(_rewrite_zip(src, {"data": _evil_data(src, marker)}, drop))
    act = load_policy(path, env_id=ENV)
    obs = np.zeros((3, 4), np.float32)
    assert act(obs).shape == (3,)
    if keep_genplay_json:  # the genplay zip keeps its observation scaling: same actions as the trainer
        obs = trainer.demos.transitions()["obs"][:50]
        np.testing.assert_array_equal(act(obs), trainer.predict(obs)[0])
    assert not marker.exists()


def test_policy_zip_with_pickled_weights_is_refused(run_dir, tmp_path):
    out, _ = run_dir
    marker = tmp_path / "pwned"
    evil = io.BytesIO()
    torch.save({"w": Payload(marker)}, evil)
    path = tmp_path / "evil.zip"
    path.write_bytes(_rewrite_zip((out / "policy.zip").read_bytes(), {"policy.pth": evil.getvalue()}))
    with pytest.raises(CheckpointError, match="policy.pth") as info:
        load_policy(path, env_id=ENV)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_demos_with_pickled_object_array_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    np.savez(path, obs=np.array([Payload(marker)], dtype=object), format_version=np.asarray(1))
    with pytest.raises(DemoError, match="evil.npz"):
        load_demos(path)
    npy = tmp_path / "evil.npy"
    np.save(npy, np.array([Payload(marker)], dtype=object))
    with pytest.raises(DemoError, match="evil.npy"):
        load_demos(npy)
    assert not marker.exists()


# ---------------------------------------------------------------------------- SB3 save/load without pickles


@pytest.mark.parametrize("algo_name", ["PPO", "A2C", "MaskablePPO"])
def test_generator_state_round_trips_for_each_algorithm(algo_name):
    cls = {"PPO": PPO, "A2C": A2C, "MaskablePPO": MaskablePPO}[algo_name]
    kwargs = dict(n_steps=16, policy_kwargs={"net_arch": [8], "activation_fn": torch.nn.ReLU}, seed=0, device="cpu")
    if algo_name != "A2C":
        kwargs.update(batch_size=16, n_epochs=1)

    def venv(seed):
        if algo_name != "MaskablePPO":
            return make_vec_env(ENV, n_envs=2, seed=seed)
        masker = {"wrapper_class": ActionMasker, "wrapper_kwargs": {"action_mask_fn": _all}}
        return make_vec_env(ENV, n_envs=2, seed=seed, **masker)

    algo = cls("MlpPolicy", venv(0), **kwargs)
    algo.learn(64)
    state = state_from_bytes(state_to_bytes(algo_state(algo)))
    back = algo_from_state(state, venv(1))
    assert type(back) is cls and back.num_timesteps == algo.num_timesteps and back._n_updates == algo._n_updates
    assert _same_params(algo.policy, back.policy)
    assert back.policy_kwargs["activation_fn"] is torch.nn.ReLU
    opt_a, opt_b = algo.policy.optimizer.state_dict(), back.policy.optimizer.state_dict()
    assert type(algo.policy.optimizer) is type(back.policy.optimizer)
    for k, v in opt_a["state"].items():
        assert all(torch.equal(v[n], opt_b["state"][k][n]) for n in v)
    back.learn(128, reset_num_timesteps=False)  # and it trains on
    assert back.num_timesteps >= 192


def test_genplay_policy_zip_still_opens_in_sb3(run_dir):
    out, trainer = run_dir
    model = PPO.load(out / "policy.zip", device="cpu")  # SB3's own loader (it unpickles: trusted file here)
    obs = trainer.demos.transitions()["obs"][:200]  # raw observations: the demo scaling is inside the network
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], trainer.predict(obs)[0])


def test_third_party_sb3_zip_is_rebuilt_from_its_weights(tmp_path):
    model = PPO(
        "MlpPolicy", make_vec_env(ENV, n_envs=1), n_steps=32, batch_size=32, device="cpu",
        policy_kwargs={"net_arch": {"pi": [12, 7], "vf": [5]}, "activation_fn": torch.nn.ELU},
    )  # fmt: skip
    model.save(tmp_path / "third.zip")
    env = make_vec_env(ENV, n_envs=1)
    with pytest.raises(CheckpointError, match="give the env"):
        load_sb3_zip(tmp_path / "third.zip")
    spaces = {"observation_space": env.observation_space, "action_space": env.action_space}
    back, _ = load_sb3_zip(tmp_path / "third.zip", **spaces)
    assert _same_params(model.policy, back.policy) and back.policy_kwargs["activation_fn"] is torch.nn.ELU
    acrobot = make_vec_env("Acrobot-v1", n_envs=1)
    with pytest.raises(CheckpointError, match="shape"):
        load_sb3_zip(tmp_path / "third.zip", observation_space=acrobot.observation_space, action_space=env.action_space)


@pytest.mark.parametrize("arch", [[10**9], {"pi": [64] * 100, "vf": [64]}])
def test_a_zip_asking_for_a_huge_network_is_refused_before_allocating(tmp_path, arch):
    model = PPO("MlpPolicy", make_vec_env(ENV, n_envs=1), n_steps=32, batch_size=32, device="cpu")
    save_sb3_zip(model, tmp_path / "p.zip")
    src = (tmp_path / "p.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(src)) as zf:
        meta = json.loads(zf.read("genplay.json"))
    meta["policy_kwargs"]["net_arch"] = arch
    (tmp_path / "p.zip").write_bytes(_rewrite_zip(src, {"genplay.json": json.dumps(meta).encode()}))
    with pytest.raises(CheckpointError, match="net_arch"):
        load_sb3_zip(tmp_path / "p.zip")


def test_cached_expert_loads_without_unpickling(tmp_path, genplay_cache_dir):
    model = PPO("MlpPolicy", make_vec_env(ENV, n_envs=1), n_steps=32, batch_size=32, device="cpu", seed=3)
    path = expert_path(ENV, seed=77)
    save_sb3_zip(model, path)
    assert _same_params(load_expert(ENV, seed=77).policy, model.policy)
    marker = tmp_path / "pwned"
    src = path.read_bytes()
    path.write_bytes(_rewrite_zip(src, {"data": _evil_data(src, marker)}, drop=("genplay.json",)))
    assert _same_params(load_expert(ENV, seed=77).policy, model.policy)
    assert not marker.exists()


def test_a2c_generator_checkpoint_round_trips(cartpole_demos, tmp_path):
    venv = make_vec_env(ENV, n_envs=2, seed=0)
    gen = A2C("MlpPolicy", venv, n_steps=32, seed=0, device="cpu")
    config = replace(GAILConfig(), n_envs=2, disc_batch_size=32, disc_updates=1, bc_epochs=0, device="cpu")
    trainer = GAIL(venv=venv, demos=cartpole_demos, config=config, gen_algo=gen)
    trainer.learn(128)
    trainer.save(str(tmp_path / "c.pt"))
    back = GAIL.load(str(tmp_path / "c.pt"), venv=make_vec_env(ENV, n_envs=2, seed=1), demos=cartpole_demos)
    assert type(back.gen_algo) is A2C and back.num_timesteps == 128 and back.gen_algo.n_steps == 32
    assert _same_params(trainer.gen_algo.policy, back.gen_algo.policy)
    back.learn(192)
    assert back.num_timesteps == 192


# ---------------------------------------------------------------------------- run directories


def test_second_writer_is_refused_with_the_holders_pid(tmp_path, cartpole_demos):
    out = tmp_path / "run"
    with RunDirLock(out):
        with pytest.raises(RunDirError, match=r"another run \(pid \d+\)"):
            RunDirLock(out).acquire()
        with pytest.raises(RunDirError, match="another run"):
            train_gail(ENV, cartpole_demos, 128, config=tiny_config(), out_dir=out)
        assert sorted(p.name for p in out.iterdir()) == [".lock"]  # nothing written by the refused run
    with RunDirLock(out):  # released: the next run may go
        pass


def test_existing_run_is_refused_unless_resumed_or_forced(run_dir, tmp_path, cartpole_demos):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(run_dir[0], out)
    before = (out / "checkpoint.pt").read_bytes()
    with pytest.raises(RunDirError, match="already holds a run"):
        train_gail(ENV, cartpole_demos, 128, config=tiny_config(), out_dir=out)
    assert (out / "checkpoint.pt").read_bytes() == before
    with pytest.raises(KeyboardInterrupt):  # forced start-over killed at once: the old run is gone, not mixed in
        train_gail(ENV, cartpole_demos, 128, config=tiny_config(), out_dir=out, force=True, callback=_Kill())
    assert not (out / "checkpoint.pt").exists() and not (out / "policy.zip").exists()
    trainer = train_gail(ENV, cartpole_demos, 128, config=tiny_config(), out_dir=out, force=True)
    assert trainer.num_timesteps == 128 and len(read_checkpoint(out / "checkpoint.pt")["history"]) == 1


def test_resume_refuses_other_demos_unless_forced_and_appends_logs(run_dir, tmp_path, cartpole_demos):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(run_dir[0], out)
    rows_before = list(csv.reader((out / "logs" / "progress.csv").open()))
    other = collect_demos(ENV, lambda obs: (obs[:, 2] > 0).astype(np.int64), 2, seed=5)
    with pytest.raises(CheckpointError, match="demos differ"):
        train_gail(ENV, other, 512, config=tiny_config(), out_dir=out, resume=True)
    with pytest.raises(CheckpointError, match=r"disc_lr: 0.001 -> 0.01"):
        train_gail(ENV, cartpole_demos, 512, config=tiny_config(disc_lr=0.01), out_dir=out, resume=True)
    trainer = train_gail(ENV, other, 384, config=tiny_config(disc_lr=0.01), out_dir=out, resume=True, force=True)
    assert trainer.num_timesteps == 384 and trainer.disc_opt.param_groups[0]["lr"] == 0.01
    rows_after = list(csv.reader((out / "logs" / "progress.csv").open()))
    assert rows_after[1 : len(rows_before)] == rows_before[1:]  # the first run's rows are kept
    assert len(rows_after) == len(rows_before) + 1  # one more rollout logged


def test_config_checks_name_the_field():
    with pytest.raises(ValueError, match=r"RewardModelConfig.disc_lr: expected a finite number in \(0, 1\], got nan"):
        replace(GAILConfig(), disc_lr=float("nan"))
    with pytest.raises(ValueError, match=r"PPOConfig.gamma: expected a finite number in \(0, 1\]"):
        PPOConfig(gamma=0.0)
    replace(GAILConfig(), absorbing=False, ppo=PPOConfig(gamma=1.0))  # gamma = 1 stays allowed without absorbing states
    with pytest.raises(ValueError, match="absorbing"):
        GAILConfig(ppo=PPOConfig(gamma=1.0))


def test_lock_held_by_another_process_is_refused(tmp_path, cartpole_demos, capsys):
    """A real second process holding the run's lock (as a running ``gail train`` does)."""
    import subprocess
    import sys

    from genplay.cli import main

    out = tmp_path / "run"
    out.mkdir()
    holder = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(out / '.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "os.write(fd, f'{os.getpid()}\\n'.encode())\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        demos = tmp_path / "demos.npz"
        from genplay.gail.data.demos import save_demos

        save_demos(demos, cartpole_demos)
        argv = ["gail", "train", "--env", ENV, "--demos", str(demos), "--timesteps", "128", "--out", str(out)]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"another run (pid {proc.pid})" in err[0]
        assert sorted(p.name for p in out.iterdir()) == [".lock"]
    finally:
        proc.kill()
        proc.wait()
    with RunDirLock(out):  # the kernel dropped the dead holder's lock: no stale lock
        pass


def _SCALED(inner: str, mean: list[float]) -> dict:  # noqa: N802 (reads as the constant it builds)
    """policy_kwargs naming genplay's scaling extractor with the given inner extractor and means."""
    kwargs = {"mean": mean, "std": [1.0] * 4, "clip": 10.0, "inner": inner}
    return {"features_extractor_class": "ObsScalingExtractor", "features_extractor_kwargs": kwargs}


@pytest.mark.parametrize(
    "field, value, needle",
    [
        ("algo", "os:system", "generator class"),
        ("policy", "builtins.eval", "policy"),
        ("policy_kwargs", {"activation_fn": "os.system"}, "activation_fn"),
        ("policy_kwargs", {"features_extractor_class": "subprocess.Popen"}, "features_extractor_class"),
        ("policy_kwargs", {"optimizer_class": "pickle.loads"}, "optimizer_class"),
        ("policy_kwargs", _SCALED("subprocess.Popen", [0.0] * 4), "inner extractor"),
        ("policy_kwargs", _SCALED("FlattenExtractor", [0.0] * 10**5), "4 means and stds"),
        ("hyper", {"n_steps": 10**12}, "n_steps"),
        ("n_envs", 10**9, "n_envs"),
    ],
)
def test_hostile_genplay_json_is_refused_by_the_allow_lists(run_dir, tmp_path, field, value, needle):
    out, _ = run_dir
    src = (out / "policy.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(src)) as zf:
        meta = json.loads(zf.read("genplay.json"))
    meta[field] = value
    path = tmp_path / "hostile.zip"
    path.write_bytes(_rewrite_zip(src, {"genplay.json": json.dumps(meta).encode()}))
    with pytest.raises(CheckpointError, match=needle) as info:
        load_policy(path)
    assert str(path) in str(info.value)


def test_continuous_sde_policy_round_trips_both_ways(tmp_path):
    """Pendulum-style PPO with gSDE: the genplay zip and the third-party path give the same weights."""
    model = PPO("MlpPolicy", make_vec_env("Pendulum-v1", n_envs=1), n_steps=32, batch_size=32, use_sde=True,
                device="cpu", seed=0)  # fmt: skip
    model.save(tmp_path / "plain.zip")
    save_sb3_zip(model, tmp_path / "genplay.zip")
    env = make_vec_env("Pendulum-v1", n_envs=1)
    spaces = {"observation_space": env.observation_space, "action_space": env.action_space}
    for name in ("plain.zip", "genplay.zip"):
        back, _ = load_sb3_zip(tmp_path / name, **spaces)
        assert back.use_sde and _same_params(model.policy, back.policy), name
        obs = np.zeros((2, 3), np.float32)
        np.testing.assert_allclose(back.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])


def test_run_exported_before_genplay_json_keeps_its_observation_scaling(run_dir, tmp_path):
    """An older run dir: SB3's zip without genplay.json, scaling in policy.json; loaded on the env's spaces."""
    out, trainer = run_dir
    old = tmp_path / "old_run"
    old.mkdir()
    save_sb3_zip(trainer.gen_algo, tmp_path / "old.zip")  # the network without the scaling, as exported then
    (old / "policy.zip").write_bytes(_rewrite_zip((tmp_path / "old.zip").read_bytes(), {}, drop=("genplay.json",)))
    norm = trainer.policy_obs_norm
    scaling = {"mean": norm.obs_rms.mean.tolist(), "var": norm.obs_rms.var.tolist(), "clip": norm.clip_obs}
    (old / "policy.json").write_text(json.dumps({"normalize_obs": True, **scaling}))
    obs = trainer.demos.transitions()["obs"][:50]
    np.testing.assert_array_equal(load_policy(old, env_id=ENV)(obs), trainer.predict(obs)[0])
