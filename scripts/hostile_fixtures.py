"""Fixtures of the hostile trial (scripts/hostile_trial.py): tiny runs made once through the CLI,
and crafted files (damaged, pickled, NaN, impossible counters) made from them.

Every crafted state file is written at the byte level (zip of ``state.json`` +
``tensors.safetensors`` + ``sha256``, the digest recomputed) so that it passes the checksum
and tests the checks behind it. Nothing here imports ``genplay.gail`` (its layout moves).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import random
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ENV = "CartPole-v1"
GAIL_TINY = (
    "--n-envs",
    "1",
    "--ppo-n-steps",
    "256",
    "--ppo-batch-size",
    "64",
    "--ppo-net-arch",
    "16",
    "--disc-hidden",
    "16",
)
GAIL_TINY += ("--bc-epochs", "0", "--quiet")
DAC_TINY = ("--algo", "dac", "--n-envs", "2", "--dqn-learning-starts", "200", "--dqn-buffer-size", "2000")
DAC_TINY += ("--dqn-disc-every", "200", "--dqn-net-arch", "16", "--quiet")
IMG_TINY = ("--dataset", "digits", "--steps", "4", "--batch-size", "16", "--base-channels", "8", "--quiet")
TXT_TINY = ("--mle-epochs", "1", "--adv-steps", "1", "--disc-pretrain-steps", "1", "--quiet")
TXT_TINY += ("--emb-dim", "8", "--hidden-dim", "8", "--disc-filters", "4", "--disc-emb-dim", "8", "--n-rollouts", "2")
MUS_TINY = ("--limit", "3", "--steps", "2", "--n-eval", "4", "--batch-size", "4", "--gen-width", "8")
MUS_TINY += ("--critic-width", "4", "--quiet")


class Payload:
    """Unpickling this creates ``path``: the marker that code from a file ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def cli_env(home: Path, cache: Path) -> dict[str, str]:
    """The environment of every CLI call: one torch thread, HOME and cache inside the trial."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", XDG_RUNTIME_DIR="/tmp", PYTHONUNBUFFERED="1")
    env.update(HOME=str(home), MPLCONFIGDIR=str(home / ".mpl"), GENPLAY_CACHE_DIR=str(cache), MPLBACKEND="Agg")
    return env


def genplay(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> None:
    """Run ``genplay argv`` for a fixture unless its output exists; a failure stops the trial."""
    out = argv[argv.index("--out") + 1] if "--out" in argv else None
    if out is not None and Path(out).exists():
        return
    proc = subprocess.run(
        [sys.executable, "-m", "genplay", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise SystemExit(f"fixture failed: genplay {' '.join(argv)}\n{proc.stderr[-3000:]}")


# ---------------------------------------------------------------- state files, edited at byte level
def _digest(tree: bytes, tensors: bytes) -> str:
    h = hashlib.sha256()
    h.update(len(tree).to_bytes(8, "little"))
    h.update(tree)
    h.update(tensors)
    return h.hexdigest()


def _walk(tree: dict, dotted: str) -> tuple[dict | list, str | int]:
    """The parent node and key of ``dotted`` (keys may hold dots themselves: ``net.0.weight``)."""
    parts, node, i = dotted.split("."), tree, 0
    while True:
        for j in range(len(parts), i, -1):
            key: str | int = ".".join(parts[i:j])
            if isinstance(node, list) and key.isdigit():
                key = int(key)
            if (isinstance(node, dict) and key in node) or (isinstance(node, list) and isinstance(key, int)):
                if j == len(parts):
                    return node, key
                node, i = node[key], j
                break
        else:
            raise KeyError(dotted)


def craft_state(
    src: Path,
    dst: Path,
    *,
    values: dict[str, object] | None = None,
    tensors: dict[str, Callable] | None = None,
) -> None:
    """Copy state file ``src`` to ``dst`` with JSON fields set and tensors replaced, checksum valid."""
    import torch
    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    tree = json.loads(members["state.json"])
    for dotted, value in (values or {}).items():
        node, key = _walk(tree["state"], dotted)
        node[key] = value
    blobs = st_load(members["tensors.safetensors"])
    for dotted, fn in (tensors or {}).items():
        node, key = _walk(tree["state"], dotted)
        ref = node[key]
        name = ref.get("__tensor__") or ref.get("__ndarray__")
        blobs[name] = torch.as_tensor(fn(blobs[name].clone())).contiguous()
    members["state.json"] = json.dumps(tree).encode()
    members["tensors.safetensors"] = st_save(blobs)
    members["sha256"] = _digest(members["state.json"], members["tensors.safetensors"]).encode()
    _write_zip(dst, members)


def _write_zip(dst: Path, members: dict[str, bytes]) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(buf.getvalue())


def nan_fill(t):
    """A float tensor filled with NaN (integer tensors get their largest value instead)."""
    return t.fill_(float("nan")) if t.is_floating_point() else t.fill_(2**31 - 1)


def bitflip(src: Path, dst: Path, *, where: float = 0.6) -> None:
    """Copy with 16 bytes inverted at ``where`` of the file's length."""
    data = bytearray(src.read_bytes())
    i = int(len(data) * where)
    data[i : i + 16] = bytes(b ^ 0xFF for b in data[i : i + 16])
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(data))


def truncate(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes()[: len(src.read_bytes()) // 2])


def torch_pickle(dst: Path, marker: str) -> None:
    """A torch.save file whose unpickling would create ``marker``."""
    import torch

    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"version": 2, "state": Payload(marker)}, dst)


def edit_policy_zip(src: Path, dst: Path, *, meta: Callable | None = None, weights: Callable | None = None) -> None:
    """Copy an SB3 zip with its genplay.json edited and/or its policy.pth weights transformed."""
    import torch

    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    if meta is not None:
        members["genplay.json"] = json.dumps(meta(json.loads(members["genplay.json"]))).encode()
    if weights is not None:
        sd = torch.load(io.BytesIO(members["policy.pth"]), weights_only=True)
        buf = io.BytesIO()
        torch.save(weights(sd), buf)
        members["policy.pth"] = buf.getvalue()
    _write_zip(dst, members)


# ---------------------------------------------------------------- demos files
def edit_demos(src: Path, dst: Path, *, meta: Callable | None = None, arrays: dict | None = None) -> None:
    """Copy a demos .npz with its metadata JSON and/or arrays replaced."""
    with np.load(src, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    if meta is not None:
        edited = meta(json.loads(str(data["metadata"])))
        data["metadata"] = np.asarray(edited if isinstance(edited, str) else json.dumps(edited))
    data.update(arrays or {})
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "wb") as f:
        np.savez(f, **data)


def _env_kwargs(**kw) -> Callable[[dict], dict]:
    def edit(m: dict) -> dict:
        m["env"]["kwargs"] = {**m["env"].get("kwargs", {}), **kw}
        return m

    return edit


def _nested(depth: int) -> Callable[[dict], str]:
    """Metadata JSON text with a list nested ``depth`` deep (too deep for Python's json to encode)."""

    def edit(m: dict) -> str:
        return json.dumps(m)[:-1] + ', "notes": ' + "[" * depth + "1" + "]" * depth + "}"

    return edit


def _crafted_demos(fx: dict[str, str], root: Path) -> None:
    demos = Path(fx["demos"])
    d = root / "demos"
    crafted: dict[str, tuple[Callable | None, dict | None]] = {
        "demos_steps1": (_env_kwargs(max_episode_steps=1), None),
        "demos_steps_neg": (_env_kwargs(max_episode_steps=-1), None),
        "demos_render_human": (_env_kwargs(render_mode="human"), None),
        "demos_unknown_kwarg": (_env_kwargs(no_such_kwarg=3), None),
        "demos_nested": (_nested(100_000), None),
        "demos_other_env_id": (lambda m: {**m, "env_id": "Acrobot-v1"}, None),
        "demos_version99": (None, {"format_version": np.asarray(99)}),
        "demos_meta_not_json": (None, {"metadata": np.asarray("{not json")}),
    }
    with np.load(demos, allow_pickle=False) as z:
        acts, obs, lengths = z["acts"], z["obs"], z["episode_lengths"]
    crafted["demos_nan_obs"] = (None, {"obs": np.full_like(obs, np.nan)})
    crafted["demos_acts_out_of_range"] = (None, {"acts": np.full_like(acts, 7)})
    crafted["demos_lengths_mismatch"] = (None, {"episode_lengths": lengths + 5})
    crafted["demos_negative_length"] = (None, {"episode_lengths": -lengths})
    for name, (meta, arrays) in crafted.items():
        edit_demos(demos, d / f"{name}.npz", meta=meta, arrays=arrays)
        fx[name] = str(d / f"{name}.npz")
    fx["demos_text"] = str(d / "notes.txt")
    Path(fx["demos_text"]).write_text("these are not demonstrations\n" * 20)
    np.savez(d / "evil_demos.npz", obs=np.array([Payload(fx["marker"])], dtype=object), format_version=np.asarray(1))
    fx["demos_evil"] = str(d / "evil_demos.npz")
    np.save(d / "evil.npy", np.array([Payload(fx["marker"])], dtype=object))
    fx["demos_evil_npy"] = str(d / "evil.npy")
    truncate(demos, d / "truncated.npz")
    fx["demos_truncated"] = str(d / "truncated.npz")
    bitflip(demos, d / "flipped.npz", where=0.5)
    fx["demos_flipped"] = str(d / "flipped.npz")


def _corpus(path: Path) -> None:
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "big", "red", "house", "by", "river"]
    r = random.Random(0)
    path.write_text("\n".join(" ".join(r.choice(words) for _ in range(r.randint(4, 9))) + " ." for _ in range(300)))


def build(root: Path, env: dict[str, str]) -> dict[str, str]:
    """Make every fixture under ``root``; returns placeholder -> path (for ``str.format`` of argv)."""
    root.mkdir(parents=True, exist_ok=True)
    fx: dict[str, str] = {"fx": str(root), "marker": str(root.parent / "PWNED"), "env": ENV}
    collect = ["demos", "collect", "--policy", "random"]
    for name, env_id, n in (("demos", ENV, 4), ("pend_demos", "Pendulum-v1", 1), ("v0_demos", "CartPole-v0", 2)):
        fx[name] = str(root / f"{name}.npz")
        genplay([*collect, "--env", env_id, "--n-episodes", str(n), "--out", fx[name]], root, env)
    train = ["gail", "train", "--env", ENV, "--demos", fx["demos"]]
    fx["run"], fx["dac"] = str(root / "run"), str(root / "dac")
    genplay([*train, "--timesteps", "256", "--out", fx["run"], *GAIL_TINY], root, env)
    genplay([*train, "--timesteps", "400", "--out", fx["dac"], *DAC_TINY], root, env)
    fx["img"], fx["txt"], fx["mus"], fx["corpus"] = (str(root / n) for n in ("img", "txt", "mus", "corpus.txt"))
    genplay(["images", "train", "--out", fx["img"], *IMG_TINY], root, env)
    _corpus(Path(fx["corpus"]))
    genplay(["text", "train", "--corpus", fx["corpus"], "--out", fx["txt"], *TXT_TINY], root, env)
    genplay(["music", "train", "--out", fx["mus"], *MUS_TINY], root, env)
    fx["minari"] = str(root / "minari")
    if not Path(fx["minari"]).exists():
        export = ["synth", "export", fx["demos"], "--minari-root", fx["minari"], "--minari-id", "genplay/exists-v0"]
        genplay(export, root, env)
    if not (Path(fx["run"]) / "realism.pt").exists():
        genplay(["synth", "scorer", "--run", fx["run"], "--demos", fx["demos"], "--steps", "20"], root, env)
    fx["garbage"] = str(root / "garbage.bin")
    Path(fx["garbage"]).write_bytes(np.random.default_rng(0).bytes(3000))
    fx["pickle"] = str(root / "evil.pkl")
    Path(fx["pickle"]).write_bytes(pickle.dumps(Payload(fx["marker"])))
    fx["torch_pickle"] = str(root / "evil.pt")
    torch_pickle(Path(fx["torch_pickle"]), fx["marker"])
    _crafted_demos(fx, root)
    _crafted_policies(fx, root)
    return fx


def _crafted_policies(fx: dict[str, str], root: Path) -> None:
    import torch

    policy = Path(fx["run"]) / "policy.zip"
    d = root / "policies"

    def huge_arch(m: dict) -> dict:
        m["policy_kwargs"]["net_arch"] = {"pi": [10**9], "vf": [10**9]}
        return m

    def nan_weights(sd: dict) -> dict:
        return {k: (v.fill_(float("nan")) if v.is_floating_point() else v) for k, v in sd.items()}

    def evil_weights(sd: dict) -> dict:
        return {"w": Payload(fx["marker"])}

    for name, kw in (("policy_huge_arch", {"meta": huge_arch}), ("policy_nan", {"weights": nan_weights})):
        edit_policy_zip(policy, d / f"{name}.zip", **kw)
        fx[name] = str(d / f"{name}.zip")
    with zipfile.ZipFile(policy) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    buf = io.BytesIO()
    torch.save(evil_weights({}), buf)
    _write_zip(d / "policy_evil.zip", {**members, "policy.pth": buf.getvalue()})
    fx["policy_evil"] = str(d / "policy_evil.zip")
    truncate(policy, d / "policy_truncated.zip")
    fx["policy_truncated"] = str(d / "policy_truncated.zip")
