"""The bad-input corpus: every case ends with exit code 2 and one ``error:`` line naming the flag
or file, no traceback, nothing executed from a file, nothing lost in a run directory.

Each case runs the CLI in-process (``genplay.cli.main``). Cases that need a trained run share
one tiny module-scoped run; every case must fail before any training starts.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from malicious import Payload

from genplay.cli import main
from genplay.gail.algos.config import replace
from genplay.gail.algos.presets import preset
from genplay.gail.data.collect import collect_demos
from genplay.gail.data.demos import save_demos
from genplay.gail.runs.pipeline import train_gail
from genplay.generative.core.rundir import RunDirLock

ENV = "CartPole-v1"


def _tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file() and p.name != ".lock":
            h.update(str(p.relative_to(path)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, cartpole_demos):
    """Files every case may point at: demos, a tiny trained run, damaged and malicious files."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("bad_inputs")
    c: dict[str, str] = {"root": str(root)}
    save_demos(root / "demos.npz", cartpole_demos)
    c["demos"] = str(root / "demos.npz")
    other = collect_demos(ENV, lambda obs: (obs[:, 2] > 0).astype(np.int64), 2, seed=9)
    save_demos(root / "other_demos.npz", other)
    c["other_demos"] = str(root / "other_demos.npz")
    save_demos(root / "pendulum.npz", collect_demos("Pendulum-v1", "random", 1, seed=0))
    c["pendulum_demos"] = str(root / "pendulum.npz")
    config = replace(
        preset(ENV), n_envs=2, ppo_n_steps=64, ppo_batch_size=64, ppo_n_epochs=1, ppo_net_arch=(16,),
        disc_hidden=(16,), disc_batch_size=32, disc_updates=1, checkpoint_every=0, bc_epochs=0, device="cpu",
    )  # fmt: skip
    run = root / "run"
    train_gail(ENV, cartpole_demos, 128, config=config, out_dir=run)
    c["run"] = str(run)
    c["file"] = str(root / "a_file.txt")
    Path(c["file"]).write_text("not a directory")
    c["empty_dir"] = str(root / "empty_dir")
    Path(c["empty_dir"]).mkdir()
    c["missing"] = str(root / "missing")
    c["garbage"] = str(root / "garbage.bin")
    Path(c["garbage"]).write_bytes(np.random.default_rng(0).bytes(3000))
    c["marker"] = str(root / "PWNED")
    evil = pickle.dumps(Payload(c["marker"]))
    # demos carrying a pickle (object arrays) in .npz and .npy form
    np.savez(root / "evil_demos.npz", obs=np.array([Payload(c["marker"])], dtype=object), format_version=np.asarray(1))
    c["evil_demos"] = str(root / "evil_demos.npz")
    np.save(root / "evil.npy", np.array([Payload(c["marker"])], dtype=object))
    c["evil_npy"] = str(root / "evil.npy")
    raw = Path(c["demos"]).read_bytes()
    Path(root / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    c["truncated_demos"] = str(root / "truncated.npz")
    # run directories with a damaged / malicious / old-format checkpoint
    for name in ("damaged_run", "evil_run", "foreign_run"):
        d = root / name
        d.mkdir()
        for f in ("config.json", "policy.zip", "history.json"):
            (d / f).write_bytes((run / f).read_bytes())
        c[name] = str(d)
    ck = bytearray((run / "checkpoint.pt").read_bytes())
    i = ck.index(b"tensors.safetensors") + 300
    ck[i : i + 16] = bytes(b ^ 0xFF for b in ck[i : i + 16])
    (root / "damaged_run" / "checkpoint.pt").write_bytes(bytes(ck))
    torch.save({"version": 2, "x": Payload(c["marker"])}, root / "evil_run" / "checkpoint.pt")
    (root / "foreign_run" / "checkpoint.pt").write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    # policy zips: pickled weights, garbage, truncated, no weights
    with zipfile.ZipFile(run / "policy.zip") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    blob = io.BytesIO()
    torch.save({"w": Payload(c["marker"])}, blob)

    def write_zip(name: str, replaced: dict[str, bytes], drop: tuple[str, ...] = ()) -> str:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for n, b in {**members, **replaced}.items():
                if n not in drop:
                    zf.writestr(n, b)
        (root / name).write_bytes(buf.getvalue())
        return str(root / name)

    c["evil_policy"] = write_zip("evil_policy.zip", {"policy.pth": blob.getvalue()})
    c["evil_meta_policy"] = write_zip("evil_meta.zip", {"genplay.json": json.dumps({"algo": "os:system"}).encode()})
    c["no_weights_policy"] = write_zip("no_weights.zip", {}, drop=("policy.pth",))
    c["pickle_policy"] = str(root / "pickle_policy.zip")
    Path(c["pickle_policy"]).write_bytes(evil)
    zipped = (run / "policy.zip").read_bytes()
    c["truncated_policy"] = str(root / "truncated_policy.zip")
    Path(c["truncated_policy"]).write_bytes(zipped[: len(zipped) // 2])
    c["run_digest"] = _tree_digest(run)
    _music_runs(root, c, evil)
    _minari_datasets(root, c)
    return c


def _minari_datasets(root: Path, c: dict[str, str]) -> None:
    """A good Minari dataset under ``{minari}``, and copies of it with the hdf5 missing, metadata.json
    malformed, and total_episodes beyond what the data holds."""
    import shutil

    from genplay.gail.data.demos import load_demos
    from genplay.gail.data.minari_io import export_minari

    c["minari"] = str(root / "minari")
    good = export_minari(load_demos(c["demos"]), "genplay/exists-v0", root=c["minari"])
    for name in ("minari_no_hdf5", "minari_bad_meta", "minari_too_many"):
        shutil.copytree(good, root / name)
        c[name] = str(root / name)
    (root / "minari_no_hdf5" / "data" / "main_data.hdf5").unlink()
    (root / "minari_bad_meta" / "data" / "metadata.json").write_text('{"total_episodes": 5, "observation_space": ')
    meta = json.loads((good / "data" / "metadata.json").read_text())
    meta["total_episodes"] = meta["total_episodes"] + 3
    (root / "minari_too_many" / "data" / "metadata.json").write_text(json.dumps(meta))


def _music_runs(root: Path, c: dict[str, str], evil: bytes) -> None:
    """A tiny valid music run, and run dirs whose generator.state is damaged, a pickle or foreign."""
    from genplay.generative.music.data import Rolls
    from genplay.generative.music.trainer import MusicGANConfig, build_generator, save_generator

    config = MusicGANConfig(z_dim=2, gen_width=4, critic_width=2, device="cpu")
    rolls = Rolls(np.zeros((1, 4, 64, 10), bool), 40, 1)
    save_generator(root / "music_run" / "generator.state", config, build_generator(config, 10), rolls)
    c["music_run"] = str(root / "music_run")
    good = (root / "music_run" / "generator.state").read_bytes()
    i = good.index(b"tensors.safetensors") + 300
    blobs = {
        "music_damaged": good[:i] + bytes(b ^ 0xFF for b in good[i : i + 16]) + good[i + 16 :],
        "music_pickled": evil,
        "music_torch_pickle": (root / "evil_run" / "checkpoint.pt").read_bytes(),
        "music_foreign": (Path(c["run"]) / "checkpoint.pt").read_bytes(),  # a GAIL state file
    }
    for name, blob in blobs.items():
        (root / name).mkdir()
        (root / name / "generator.state").write_bytes(blob)
        c[name] = str(root / name)


TRAIN = ["gail", "train", "--env", ENV, "--demos", "{demos}", "--timesteps", "256", "--out", "{root}/new", "--quiet"]
RESUME = ["gail", "train", "--env", ENV, "--demos", "{demos}", "--timesteps", "512", "--out", "{run}", "--resume"]
EVAL = ["evaluate", "--env", ENV, "--n-episodes", "2"]
COLLECT = ["demos", "collect", "--env", ENV, "--n-episodes", "2"]
SUITE = ["evaluate", "--suite", "atari", "--games", "pong", "--out", "{root}/suite"]
MUSIC = ["music", "train", "--out", "{root}/music_new", "--limit", "1", "--quiet"]
MSAMPLE = ["music", "sample", "{music_run}", "--out", "{root}/music_samples"]
BOARD_COLLECT = ["demos", "collect", "--env", "genplay/ConnectFour-v0", "--n-episodes", "1", "--out", "{root}/b.npz"]
BOARD_SUITE = ["evaluate", "--suite", "boardgames", "--env", "genplay/TicTacToe-v0", "--n-episodes", "1"]

SYNTH_REPORT = ["synth", "report", "--run", "{run}", "--data", "{demos}"]
EXPORT = ["synth", "export", "{demos}", "--minari-root", "{minari}"]
IMPORT = ["synth", "import", "--out", "{root}/imported.npz"]

# (id, argv, what the error line must name)
CASES: list[tuple[str, list[str], str]] = [
    # argparse's own errors
    ("no-command", [], "required"),
    ("unknown-command", ["fly"], "invalid choice"),
    ("train-missing-flags", ["gail", "train", "--env", ENV], "--demos"),
    ("train-unknown-flag", [*TRAIN, "--no-such-flag", "1"], "--no-such-flag"),
    ("train-timesteps-text", [*TRAIN[:6], "--timesteps", "lots", *TRAIN[8:]], "--timesteps"),
    ("train-timesteps-zero", [*TRAIN[:6], "--timesteps", "0", *TRAIN[8:]], "--timesteps"),
    ("train-timesteps-negative", [*TRAIN[:6], "--timesteps", "-5", *TRAIN[8:]], "--timesteps"),
    ("train-timesteps-float", [*TRAIN[:6], "--timesteps", "1e5", *TRAIN[8:]], "--timesteps"),
    ("train-int-flag-text", [*TRAIN, "--n-envs", "four"], "--n-envs"),
    ("train-float-flag-text", [*TRAIN, "--disc-lr", "fast"], "--disc-lr"),
    ("train-bool-flag-text", [*TRAIN, "--absorbing", "maybe"], "--absorbing"),
    ("train-layers-text", [*TRAIN, "--disc-hidden", "64", "wide"], "--disc-hidden"),
    ("eval-episodes-zero", [*EVAL[:3], "--policy", "random", "--n-episodes", "0"], "--n-episodes"),
    ("eval-episodes-negative", [*EVAL[:3], "--policy", "random", "--n-episodes", "-3"], "--n-episodes"),
    ("eval-episodes-text", [*EVAL[:3], "--policy", "random", "--n-episodes", "many"], "--n-episodes"),
    ("eval-seed-negative", [*EVAL, "--policy", "random", "--seed", "-1"], "--seed"),
    ("eval-missing-policy-flag", EVAL, "--policy"),
    ("collect-episodes-zero", [*COLLECT[:4], "--n-episodes", "0", "--out", "{root}/d.npz"], "--n-episodes"),
    ("collect-missing-out", COLLECT, "--out"),
    ("collect-episodes-huge", [*COLLECT[:4], "--n-episodes", "99999999999", "--out", "{root}/d.npz"], "<= 1000000"),
    ("eval-episodes-huge", [*EVAL[:3], "--policy", "random", "--n-episodes", "99999999999"], "<= 1000000"),
    ("collect-seed-huge", [*COLLECT, "--out", "{root}/d.npz", "--seed", str(2**40)], "--seed"),
    ("demo-n-demo-zero", ["demo", "--n-demo", "0"], "--n-demo"),
    ("demo-timesteps-zero", ["demo", "--timesteps", "0"], "--timesteps"),
    ("demo-subsample-zero", ["demo", "--subsample", "0"], "--subsample"),
    ("demo-seed-negative", ["demo", "--seed", "-2"], "--seed"),
    ("expert-seed-negative", ["expert", "train", "--env", ENV, "--seed", "-1"], "--seed"),
    ("info-missing-file", ["demos", "info"], "file"),
    # config values: one line naming the flag
    ("n-envs-zero", [*TRAIN, "--n-envs", "0"], "--n-envs"),
    ("n-envs-negative", [*TRAIN, "--n-envs", "-2"], "--n-envs"),
    ("seed-negative", [*TRAIN, "--seed", "-1"], "--seed"),
    ("disc-lr-nan", [*TRAIN, "--disc-lr", "nan"], "--disc-lr"),
    ("disc-lr-negative", [*TRAIN, "--disc-lr", "-0.001"], "--disc-lr"),
    ("disc-lr-zero", [*TRAIN, "--disc-lr", "0"], "--disc-lr"),
    ("disc-lr-inf", [*TRAIN, "--disc-lr", "inf"], "--disc-lr"),
    ("disc-lr-huge", [*TRAIN, "--disc-lr", "1e30"], "--disc-lr: expected a finite number in (0, 1]"),
    ("bc-lr-huge", [*TRAIN, "--bc-lr", "1e30"], "--bc-lr"),
    ("ppo-lr-above-one", [*TRAIN, "--ppo-learning-rate", "2"], "--ppo-learning-rate"),
    ("dqn-lr-above-one", [*TRAIN, "--algo", "dac", "--dqn-learning-rate", "5"], "--dqn-learning-rate"),
    ("train-timesteps-huge", [*TRAIN[:6], "--timesteps", "99999999999999", *TRAIN[8:]], "<= 10000000000000"),
    ("bc-lr-nan", [*TRAIN, "--bc-lr", "nan"], "--bc-lr"),
    ("ppo-lr-negative", [*TRAIN, "--ppo-learning-rate", "-0.1"], "--ppo-learning-rate"),
    ("ppo-lr-nan", [*TRAIN, "--ppo-learning-rate", "nan"], "--ppo-learning-rate"),
    ("gamma-zero", [*TRAIN, "--ppo-gamma", "0"], "--ppo-gamma"),
    ("gamma-above-one", [*TRAIN, "--ppo-gamma", "1.5"], "--ppo-gamma"),
    ("gamma-nan", [*TRAIN, "--ppo-gamma", "nan"], "--ppo-gamma"),
    ("gamma-one-with-absorbing", [*TRAIN, "--ppo-gamma", "1"], "gamma"),
    ("gae-lambda-above-one", [*TRAIN, "--ppo-gae-lambda", "2"], "--ppo-gae-lambda"),
    ("ppo-n-steps-zero", [*TRAIN, "--ppo-n-steps", "0"], "--ppo-n-steps"),
    ("ppo-batch-size-one", [*TRAIN, "--ppo-batch-size", "1"], "--ppo-batch-size"),
    ("ppo-n-epochs-zero", [*TRAIN, "--ppo-n-epochs", "0"], "--ppo-n-epochs"),
    ("ppo-clip-range-zero", [*TRAIN, "--ppo-clip-range", "0"], "--ppo-clip-range"),
    ("ppo-ent-coef-negative", [*TRAIN, "--ppo-ent-coef", "-0.01"], "--ppo-ent-coef"),
    ("ppo-vf-coef-nan", [*TRAIN, "--ppo-vf-coef", "nan"], "--ppo-vf-coef"),
    ("ppo-max-grad-norm-zero", [*TRAIN, "--ppo-max-grad-norm", "0"], "--ppo-max-grad-norm"),
    ("ppo-sde-freq-below-minus-one", [*TRAIN, "--ppo-sde-sample-freq", "-2"], "--ppo-sde-sample-freq"),
    ("ppo-net-arch-zero", [*TRAIN, "--ppo-net-arch", "0"], "--ppo-net-arch"),
    ("ppo-net-arch-negative", [*TRAIN, "--ppo-net-arch", "64", "-64"], "--ppo-net-arch"),
    ("ppo-net-arch-huge", [*TRAIN, "--ppo-net-arch", "1000000000"], "8192"),
    ("ppo-net-arch-deep", [*TRAIN, "--ppo-net-arch", *["4"] * 40], "at most 16 layer widths"),
    ("disc-hidden-huge", [*TRAIN, "--disc-hidden", "99999"], "--disc-hidden"),
    ("n-envs-huge", [*TRAIN, "--n-envs", "5000"], "<= 1024"),
    ("ppo-cnn-on-vectors", [*TRAIN, "--ppo-policy", "CnnPolicy"], "--ppo-policy: CnnPolicy needs image"),
    ("ppo-sde-on-discrete", [*TRAIN, "--ppo-use-sde", "true"], "--ppo-use-sde"),
    (
        "dqn-gamma-one",
        [*TRAIN, "--algo", "dac", "--dqn-gamma", "1.0"],
        "--dqn-gamma: expected a finite number in (0, 1)",
    ),
    ("dqn-buffer-huge", [*TRAIN, "--algo", "dac", "--dqn-buffer-size", "100000000"], "--dqn-buffer-size"),
    ("dqn-batch-huge", [*TRAIN, "--algo", "dac", "--dqn-batch-size", "100000000"], "--dqn-batch-size"),
    ("dqn-net-arch-huge", [*TRAIN, "--algo", "dac", "--dqn-net-arch", "1000000000"], "--dqn-net-arch"),
    ("disc-hidden-zero", [*TRAIN, "--disc-hidden", "0"], "--disc-hidden"),
    ("ppo-activation-unknown", [*TRAIN, "--ppo-activation", "swish"], "--ppo-activation"),
    ("disc-activation-unknown", [*TRAIN, "--disc-activation", "sigmoidal"], "--disc-activation"),
    ("ppo-policy-unknown", [*TRAIN, "--ppo-policy", "TransformerPolicy"], "--ppo-policy"),
    ("ppo-policy-empty", [*TRAIN, "--ppo-policy", ""], "--ppo-policy"),
    ("device-cuda-absent", [*TRAIN, "--device", "cuda"], "--device"),
    ("device-cuda-index", [*TRAIN, "--device", "cuda:7"], "--device"),
    ("device-unknown", [*TRAIN, "--device", "tpu"], "--device"),
    ("device-garbage", [*TRAIN, "--device", "cpu:x:y"], "--device"),
    ("disc-batch-size-zero", [*TRAIN, "--disc-batch-size", "0"], "--disc-batch-size"),
    ("disc-updates-zero", [*TRAIN, "--disc-updates", "0"], "--disc-updates"),
    ("disc-replay-zero", [*TRAIN, "--disc-replay-rollouts", "0"], "--disc-replay-rollouts"),
    ("disc-cnn-features-zero", [*TRAIN, "--disc-cnn-features", "0"], "--disc-cnn-features"),
    ("disc-penalty-weight-nan", [*TRAIN, "--disc-penalty-weight", "nan"], "--disc-penalty-weight"),
    ("disc-penalty-unknown", [*TRAIN, "--disc-penalty", "l2"], "--disc-penalty"),
    ("disc-loss-unknown", [*TRAIN, "--disc-loss", "bogus"], "--disc-loss"),
    ("wasserstein-with-absorbing", [*TRAIN, "--disc-loss", "wasserstein"], "--disc-loss"),
    ("reward-form-unknown", [*TRAIN, "--reward-form", "bogus"], "--reward-form"),
    ("obs-norm-unknown", [*TRAIN, "--obs-norm", "running"], "--obs-norm"),
    ("reward-clip-negative", [*TRAIN, "--reward-clip", "-1"], "--reward-clip"),
    ("absorbing-prior-negative", [*TRAIN, "--absorbing-prior", "-1"], "--absorbing-prior"),
    ("absorbing-lr-scale-zero", [*TRAIN, "--absorbing-lr-scale", "0"], "--absorbing-lr-scale"),
    ("bc-epochs-negative", [*TRAIN, "--bc-epochs", "-1"], "--bc-epochs"),
    ("bc-patience-zero", [*TRAIN, "--bc-patience", "0"], "--bc-patience"),
    ("bc-batch-size-zero", [*TRAIN, "--bc-batch-size", "0"], "--bc-batch-size"),
    ("checkpoint-every-negative", [*TRAIN, "--checkpoint-every", "-1"], "--checkpoint-every"),
    ("torch-threads-zero", [*TRAIN, "--torch-threads", "0"], "--torch-threads"),
    ("rollout-of-one-step", [*TRAIN, "--n-envs", "1", "--ppo-n-steps", "1"], "--n-envs"),
    # env ids
    ("train-unknown-env", ["gail", "train", "--env", "NoSuch-v0", *TRAIN[4:]], "--env: unknown env id"),
    ("eval-unknown-env", ["evaluate", "--env", "NoSuch-v0", "--policy", "random"], "NoSuch-v0"),
    (
        "collect-unknown-env",
        ["demos", "collect", "--env", "NoSuch-v0", "--n-episodes", "1", "--out", "{root}/x.npz"],
        "NoSuch-v0",
    ),  # noqa: E501
    ("info-unknown-env", ["demos", "info", "{demos}", "--env", "NoSuch-v0"], "NoSuch-v0"),
    ("expert-unknown-env", ["expert", "train", "--env", "NoSuch-v0"], "NoSuch-v0"),
    ("demo-unknown-env", ["demo", "--env", "NoSuch-v0"], "NoSuch-v0"),
    # output paths
    ("train-out-is-a-file", [*TRAIN[:8], "--out", "{file}"], "--out"),
    ("train-out-under-a-file", [*TRAIN[:8], "--out", "{file}/run"], "--out"),
    ("train-out-not-writable", [*TRAIN[:8], "--out", "/proc/genplay-run"], "--out"),
    ("train-out-empty", [*TRAIN[:8], "--out", ""], "--out"),
    ("collect-out-is-a-dir", [*COLLECT, "--out", "{empty_dir}"], "--out"),
    ("collect-out-under-a-file", [*COLLECT, "--out", "{file}/d.npz"], "--out"),
    ("collect-out-not-writable", [*COLLECT, "--out", "/proc/genplay-demos.npz"], "--out"),
    ("demo-out-is-a-file", ["demo", "--out", "{file}"], "--out"),
    # demos files
    ("train-demos-missing", [*TRAIN[:4], "--demos", "{missing}", *TRAIN[6:]], "{missing}"),
    ("train-demos-directory", [*TRAIN[:4], "--demos", "{empty_dir}", *TRAIN[6:]], "{empty_dir}"),
    ("train-demos-garbage", [*TRAIN[:4], "--demos", "{garbage}", *TRAIN[6:]], "{garbage}"),
    ("train-demos-truncated", [*TRAIN[:4], "--demos", "{truncated_demos}", *TRAIN[6:]], "{truncated_demos}"),
    ("train-demos-pickled-objects", [*TRAIN[:4], "--demos", "{evil_demos}", *TRAIN[6:]], "{evil_demos}"),
    ("train-demos-other-env", [*TRAIN[:4], "--demos", "{pendulum_demos}", *TRAIN[6:]], "{pendulum_demos}"),
    ("info-garbage", ["demos", "info", "{garbage}"], "{garbage}"),
    ("train-demos-is-a-policy-zip", [*TRAIN[:4], "--demos", "{run}/policy.zip", *TRAIN[6:]], "policy.zip"),
    ("info-directory", ["demos", "info", "{run}"], "{run}"),
    ("info-pickled-npy", ["demos", "info", "{evil_npy}"], "{evil_npy}"),
    ("info-pickled-npz", ["demos", "info", "{evil_demos}"], "{evil_demos}"),
    # run directories: existing run, lock, resume mismatches, damaged or malicious checkpoints
    ("train-into-existing-run", [*TRAIN[:8], "--out", "{run}"], "already holds a run"),
    ("train-while-locked", [*TRAIN[:8], "--out", "{run}", "--resume"], "another run (pid"),
    ("resume-changed-setting", [*RESUME, "--disc-lr", "0.01"], "disc_lr"),
    ("resume-changed-ppo-setting", [*RESUME, "--ppo-n-epochs", "3"], "ppo_n_epochs: 1 -> 3"),
    ("resume-other-demos", [*RESUME[:4], "--demos", "{other_demos}", *RESUME[6:]], "demos differ"),
    (
        "resume-other-env-demos",
        ["gail", "train", "--env", "Pendulum-v1", "--demos", "{pendulum_demos}", *RESUME[6:]],
        "env_id",
    ),  # noqa: E501
    ("resume-damaged-checkpoint", [*RESUME[:8], "--out", "{damaged_run}", "--resume"], "checksum mismatch"),
    ("resume-pickled-checkpoint", [*RESUME[:8], "--out", "{evil_run}", "--resume"], "checkpoint.pt"),
    ("resume-foreign-checkpoint", [*RESUME[:8], "--out", "{foreign_run}", "--resume"], "checkpoint.pt"),
    ("resume-bad-value", [*RESUME, "--ppo-gamma", "2"], "--ppo-gamma"),
    ("resume-forced-other-policy-net", [*RESUME, "--force", "--ppo-net-arch", "32"], "do not fit"),
    ("resume-forced-other-disc-net", [*RESUME, "--force", "--disc-hidden", "8"], "'disc' does not fit"),
    # policies
    ("eval-policy-missing", [*EVAL, "--policy", "{missing}"], "{missing}"),
    ("eval-policy-dir-without-policy", [*EVAL, "--policy", "{empty_dir}"], "no trained policy"),
    ("eval-policy-garbage", [*EVAL, "--policy", "{garbage}"], "{garbage}"),
    ("eval-policy-truncated", [*EVAL, "--policy", "{truncated_policy}"], "{truncated_policy}"),
    ("eval-policy-pickled-weights", [*EVAL, "--policy", "{evil_policy}"], "{evil_policy}"),
    ("eval-policy-bad-genplay-meta", [*EVAL, "--policy", "{evil_meta_policy}"], "{evil_meta_policy}"),
    ("eval-policy-no-weights", [*EVAL, "--policy", "{no_weights_policy}"], "{no_weights_policy}"),
    ("eval-policy-is-a-pickle", [*EVAL, "--policy", "{pickle_policy}"], "{pickle_policy}"),
    ("eval-policy-is-a-checkpoint", [*EVAL, "--policy", "{run}/checkpoint.pt"], "checkpoint.pt"),
    ("eval-policy-is-demos", [*EVAL, "--policy", "{demos}"], "{demos}"),
    ("eval-policy-other-env", ["evaluate", "--env", "Acrobot-v1", "--policy", "{run}"], "trained on CartPole-v1"),
    (
        "eval-policy-other-spaces",
        ["evaluate", "--env", "Acrobot-v1", "--policy", "{run}", "--force"],
        "observation_space",
    ),
    ("collect-policy-missing", [*COLLECT, "--out", "{root}/d.npz", "--policy", "{missing}"], "--policy"),
    ("collect-policy-garbage", [*COLLECT, "--out", "{root}/d.npz", "--policy", "{garbage}"], "{garbage}"),
    ("collect-policy-pickled", [*COLLECT, "--out", "{root}/d.npz", "--policy", "{evil_policy}"], "{evil_policy}"),
    # evaluate --suite atari: every case fails before a game is played
    ("suite-unknown", ["evaluate", "--suite", "dmc", "--policy", "random"], "--suite"),
    ("suite-unknown-game", [*SUITE[:4], "pongg", *SUITE[5:], "--policy", "random"], "--games"),
    ("suite-game-without-reference", [*SUITE[:4], "pong,adventure", *SUITE[5:], "--policy", "random"], "--games"),
    ("suite-no-games", [*SUITE[:4], ",", *SUITE[5:], "--policy", "random"], "--games"),
    ("suite-game-twice", [*SUITE[:4], "pong,Pong", *SUITE[5:], "--policy", "random"], "--games"),
    ("suite-no-policy", SUITE, "--policy"),
    ("suite-unknown-policy-kind", [*SUITE, "--policy", "dqn=x.zip"], "--policy dqn"),
    ("suite-learned-without-file", [*SUITE, "--policy", "learned"], "--policy learned"),
    ("suite-random-with-file", [*SUITE, "--policy", "random=x.zip"], "--policy random"),
    ("suite-learned-missing", [*SUITE, "--policy", "learned={missing}"], "--policy learned"),
    ("suite-learned-missing-per-game", [*SUITE, "--policy", "bc={root}/{{game}}.zip"], "pong.zip"),
    ("suite-learned-garbage", [*SUITE, "--policy", "learned={garbage}"], "{garbage}"),
    ("suite-learned-pickled", [*SUITE, "--policy", "learned={evil_policy}"], "{evil_policy}"),
    ("suite-learned-is-a-pickle", [*SUITE, "--policy", "bc={pickle_policy}"], "{pickle_policy}"),
    ("suite-learned-other-env", [*SUITE, "--policy", "learned={run}"], "trained on CartPole-v1"),
    ("suite-expert-without-expert", [*SUITE[:4], "alien", *SUITE[5:], "--policy", "expert"], "--policy expert"),
    ("suite-policy-twice", [*SUITE, "--policy", "random", "--policy", "random"], "--policy"),
    ("suite-episodes-zero", [*SUITE, "--policy", "random", "--episodes", "0"], "--episodes"),
    ("suite-ray-retries-negative", [*SUITE, "--policy", "random", "--ray", "--ray-retries", "-1"], "--ray-retries"),
    ("suite-ray-gpus-without-ray", [*SUITE, "--policy", "random", "--ray-gpus", "1"], "--ray-gpus"),
    ("suite-ray-empty-address", [*SUITE, "--policy", "random", "--ray", " "], "--ray"),
    ("suite-ray-bad-policy-before-ray", [*SUITE, "--policy", "learned={missing}", "--ray"], "--policy learned"),
    ("suite-episodes-text", [*SUITE, "--policy", "random", "--episodes", "ten"], "--episodes"),
    ("suite-seeds-text", [*SUITE, "--policy", "random", "--seeds", "0,x"], "--seeds"),
    ("suite-seeds-negative", [*SUITE, "--policy", "random", "--seeds", "-1"], "--seeds"),
    ("suite-seeds-huge", [*SUITE, "--policy", "random", "--seeds", str(2**40)], "--seeds"),
    ("suite-seeds-repeated", [*SUITE, "--policy", "random", "--seeds", "1,1"], "--seeds"),
    ("suite-with-env", [*SUITE, "--policy", "random", "--env", ENV], "--env"),
    ("suite-out-is-a-file", [*SUITE[:5], "--out", "{file}", "--policy", "random"], "--out"),
    ("suite-out-empty", [*SUITE[:5], "--out", "", "--policy", "random"], "--out"),
    ("suite-video-under-a-file", [*SUITE, "--policy", "random", "--video", "{file}/v"], "--video"),
    ("suite-flag-without-suite", [*EVAL, "--policy", "random", "--games", "pong"], "--games"),
    ("eval-two-policies-without-suite", [*EVAL, "--policy", "random", "--policy", "expert"], "--policy"),
    # genplay music train|sample|evaluate: every case fails before training or sampling
    ("music-no-action", ["music"], "required"),
    ("music-train-no-out", MUSIC[:2], "--out"),
    ("music-train-steps-zero", [*MUSIC, "--steps", "0"], "--steps"),
    ("music-train-steps-text", [*MUSIC, "--steps", "many"], "--steps"),
    ("music-train-batch-size-negative", [*MUSIC, "--batch-size", "-4"], "--batch-size"),
    ("music-train-gen-width-one", [*MUSIC, "--gen-width", "1"], "--gen-width"),
    ("music-train-lr-nan", [*MUSIC, "--lr", "nan"], "--lr"),
    ("music-train-lr-zero", [*MUSIC, "--lr", "0"], "--lr"),
    ("music-train-beta2-one", [*MUSIC, "--beta2", "1"], "--beta2"),
    ("music-train-ema-decay-one", [*MUSIC, "--ema-decay", "1"], "--ema-decay"),
    ("music-train-penalty-inf", [*MUSIC, "--penalty-weight", "inf"], "--penalty-weight"),
    ("music-train-seed-negative", [*MUSIC, "--seed", "-1"], "--seed"),
    ("music-train-device-unknown", [*MUSIC, "--device", "tpu"], "--device"),
    ("music-train-device-cuda-absent", [*MUSIC, "--device", "cuda:7"], "--device"),
    ("music-train-straight-through-text", [*MUSIC, "--straight-through", "maybe"], "--straight-through"),
    ("music-train-limit-zero", [*MUSIC, "--limit", "0"], "--limit"),
    ("music-train-out-is-a-file", [*MUSIC[:2], "--out", "{file}"], "--out"),
    ("music-train-out-under-a-file", [*MUSIC[:2], "--out", "{file}/run"], "--out"),
    ("music-train-into-existing-run", [*MUSIC[:2], "--out", "{music_run}"], "already holds a run"),
    ("music-sample-no-run", ["music", "sample", "--out", "{root}/x"], "run"),
    ("music-sample-missing-run", ["music", "sample", "{missing}", "--out", "{root}/x"], "{missing}"),
    ("music-sample-empty-dir", ["music", "sample", "{empty_dir}", "--out", "{root}/x"], "generator.state"),
    ("music-sample-damaged", ["music", "sample", "{music_damaged}", "--out", "{root}/x"], "checksum mismatch"),
    ("music-sample-pickled", ["music", "sample", "{music_pickled}", "--out", "{root}/x"], "{music_pickled}"),
    ("music-sample-torch-pickle", ["music", "sample", "{music_torch_pickle}", "--out", "{root}/x"], "pickle"),
    (
        "music-sample-foreign-state",
        ["music", "sample", "{music_foreign}", "--out", "{root}/x"],
        "not a music generator",
    ),
    ("music-sample-n-zero", [*MSAMPLE, "--n", "0"], "--n"),
    ("music-sample-seed-huge", [*MSAMPLE, "--seed", str(2**40)], "--seed"),
    ("music-sample-device-unknown", [*MSAMPLE, "--device", "tpu"], "--device"),
    ("music-sample-out-is-a-file", [*MSAMPLE[:3], "--out", "{file}"], "--out"),
    ("music-evaluate-n-zero", ["music", "evaluate", "{music_run}", "--n", "0"], "--n"),
    ("music-evaluate-other-data", ["music", "evaluate", "{music_run}", "--limit", "1", "--n", "2"], "--limit"),
    ("music-evaluate-garbage-run", ["music", "evaluate", "{music_pickled}"], "{music_pickled}"),
    # board games: bot keywords and budgets, opponents, the board-only settings elsewhere
    ("board-collect-unknown-bot", [*BOARD_COLLECT, "--policy", "minimax:3"], "--policy"),
    ("board-collect-missing-run", [*BOARD_COLLECT, "--policy", "{missing}"], "--policy"),
    ("board-collect-mcts-huge", [*BOARD_COLLECT, "--policy", "mcts:100000000"], "mcts simulations must be <="),
    ("board-collect-mcts-power", [*BOARD_COLLECT, "--policy", "mcts:2**70"], "--policy"),
    ("board-collect-alphabeta-deep", [*BOARD_COLLECT, "--policy", "alphabeta:40"], "alphabeta depth must be <="),
    ("board-collect-solver-too-big", [*BOARD_COLLECT, "--policy", "solver"], "solver only plays"),
    ("board-collect-opponent-bad", [*BOARD_COLLECT, "--opponent", "random|mcts:0"], "--opponent"),
    ("collect-opponent-not-a-board", [*COLLECT, "--opponent", "random", "--out", "{root}/x.npz"], "--opponent"),
    ("board-train-opponent-huge", [*TRAIN, "--train-opponent", "mcts:999999"], "--train-opponent"),
    ("train-symmetric-not-a-board", [*TRAIN, "--symmetric-policy", "true"], "--symmetric-policy"),
    ("train-no-timesteps-not-a-board", [*TRAIN[:6], *TRAIN[8:]], "--timesteps"),
    ("board-suite-missing-run", [*BOARD_SUITE, "--policy", "{missing}"], "--policy"),
    ("board-suite-mcts-huge", [*BOARD_SUITE, "--policy", "mcts:100000000"], "mcts simulations"),
    ("board-suite-puct-no-sims", [*BOARD_SUITE, "--policy", "puct:{run}"], "--policy"),
    ("board-suite-puct-zero-sims", [*BOARD_SUITE, "--policy", "puct:{run}:0"], "puct:<run dir>"),
    ("board-suite-puct-huge", [*BOARD_SUITE, "--policy", "puct:{run}:100000000"], "puct simulations must be <="),
    ("board-suite-puct-missing-run", [*BOARD_SUITE, "--policy", "puct:{missing}:5"], "does not exist"),
    ("board-suite-puct-other-env", [*BOARD_SUITE, "--policy", "puct:{run}:5"], "trained on CartPole-v1"),
    ("board-suite-opponent-bad", [*BOARD_SUITE, "--policy", "random", "--opponents", "mcts:50,puct:x"], "--opponents"),
    ("board-suite-opponent-empty", [*BOARD_SUITE, "--policy", "random", "--opponents", "random,"], "--opponents"),
    ("board-collect-puct-missing-run", [*BOARD_COLLECT, "--policy", "puct:{missing}:5"], "--policy"),
    ("opponents-not-a-board", ["evaluate", "--env", ENV, "--policy", "random", "--opponents", "random"], "--opponents"),
    # synthetic data: realism scorer, Minari ids, roots and datasets
    ("synth-top-without-scorer", ["synth", "--run", "{run}", "--out", "{root}/s.npz", "--top", "2"], "--top"),
    ("synth-report-without-scorer", [*SYNTH_REPORT, "--out", "{root}/report"], "--run"),
    ("synth-scorer-other-env-demos", ["synth", "scorer", "--run", "{run}", "--demos", "{pendulum_demos}"], "pendulum"),
    ("synth-scorer-steps-zero", ["synth", "scorer", "--run", "{run}", "--demos", "{demos}", "--steps", "0"], "--steps"),
    ("minari-id-traversal", [*EXPORT, "--minari-id", "../../x-v0"], "--minari-id"),
    ("minari-id-absolute", [*EXPORT, "--minari-id", "/tmp/x-v0"], "--minari-id"),
    ("minari-id-no-version", [*EXPORT, "--minari-id", "genplay/cartpole"], "--minari-id"),
    ("minari-id-spaces", [*EXPORT, "--minari-id", "genplay/my data-v0"], "--minari-id"),
    ("minari-export-exists", [*EXPORT, "--minari-id", "genplay/exists-v0"], "--force"),
    ("minari-root-is-a-file", [*EXPORT[:3], "--minari-id", "ab/c-v0", "--minari-root", "{file}"], "--minari-root"),
    ("minari-id-minari-refuses", [*EXPORT, "--minari-id", "a/b-v0"], "--minari-id"),  # Minari: namespace of 2+
    ("minari-synth-id-traversal", ["synth", "--run", "{run}", "--minari-id", "../x-v0"], "--minari-id"),
    ("minari-import-traversal", [*IMPORT, "../../x-v0", "--minari-root", "{minari}"], "source"),
    ("minari-import-unknown-id", [*IMPORT, "genplay/nothing-v0", "--minari-root", "{minari}"], "no Minari dataset"),
    ("minari-import-empty-dir", [*IMPORT, "{empty_dir}"], "{empty_dir}"),
    ("minari-import-no-hdf5", [*IMPORT, "{minari_no_hdf5}"], "main_data.hdf5"),
    ("minari-import-bad-metadata", [*IMPORT, "{minari_bad_meta}"], "metadata.json"),
    ("minari-import-too-many-episodes", [*IMPORT, "{minari_too_many}"], "total_episodes"),
]


@pytest.mark.parametrize("argv, needle", [pytest.param(a, n, id=i) for i, a, n in CASES])
def test_bad_input_is_one_error_line(ctx, capsys, argv, needle):
    argv = [a.format(**ctx) for a in argv]
    needle = needle.format(**ctx)
    lock = RunDirLock(ctx["run"]).acquire() if "pid" in needle else None  # a run in progress
    try:
        code = main(argv)
    finally:
        if lock is not None:
            lock.release()
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert needle in lines[0], (needle, lines[0])
    assert not Path(ctx["marker"]).exists()  # nothing from a file ran
    assert _tree_digest(Path(ctx["run"])) == ctx["run_digest"]  # nothing lost or changed in the run
    assert not Path(ctx["root"], "new", "checkpoint.pt").exists()
