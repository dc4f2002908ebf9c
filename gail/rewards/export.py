"""Learned rewards as products: a GAIL or AIRL run's reward model written alone, and read back safely.

``export_reward(RUN, DIR)`` writes two files:

- ``reward.safetensors``: the reward model's weights and buffers (observation scaling included);
- ``reward.json``: everything needed to rebuild and use it without the run: the algorithm, the
  reward it pays (``form``), the architecture, both spaces, the env it was learned on, the
  observation scaling's summary, gamma, the clip, the absorbing-state setting, and a sha256 over
  the model description and the weights' bytes.

``load_reward(DIR)`` checks the checksum before decoding anything (a flipped bit is refused in
one ``CheckpointError`` line), rebuilds the net from the JSON, loads the weights from
safetensors (never unpickled) and returns a :class:`LearnedReward`:
``reward(obs, acts, next_obs, dones) -> (B,)`` float32, where ``dones`` marks terminations
(not time-limit truncations). The reward per transition is

- GAIL: ``clip(form(logit))`` of the discriminator (``form``: logit, positive or negative);
- AIRL: ``clip(f)`` with ``f = g + gamma h(s') - h(s)`` (``h(s') = 0`` at terminations), or
  ``clip(g)`` alone (default: the paper's re-optimised reward; state-only ``g`` transfers);

plus, on terminating transitions when the run used absorbing states, the absorbing tail
``r_a * gamma / (1 - gamma)`` (``gail/rewards/reward.py``), as the trainer paid it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from genplay.envs import EnvFactory
from genplay.errors import CheckpointError
from genplay.gail.data.spaces import describe_space, space_mismatch
from genplay.gail.data.store import TransitionStore, concat
from genplay.gail.rewards.airl import REWARD_PARTS, AIRLRewardNet, AIRLStore
from genplay.gail.rewards.discriminator import TransitionDiscriminator
from genplay.gail.rewards.reward import absorbing_tail_weight, step_rewards
from genplay.generative.core import atomic_write
from genplay.generative.core.state_io import sha256_bytes

FORMAT = "genplay-reward"
VERSION = 1
JSON_NAME, WEIGHTS_NAME = "reward.json", "reward.safetensors"
GAIL_FORMS = ("logit", "positive", "negative")
_NET_KEYS = ("hidden", "activation", "spectral_norm", "cnn_features", "hide_top_rows")


def export_reward(run_dir: str | Path, out_dir: str | Path, *, part: str | None = None) -> Path:
    """Write the reward model of the GAIL or AIRL run in ``run_dir`` to ``out_dir``; returns ``out_dir``.

    ``part`` (AIRL only): ``g`` (default) or ``f``; a GAIL run pays its config's reward form.
    """
    from genplay.gail.saving.checkpoint import read_checkpoint

    run = Path(run_dir)
    state = read_checkpoint(run / "checkpoint.pt" if run.is_dir() else run)
    config = dict(state["config"])
    if isinstance(config.get("reward"), dict):  # the reward model's section (runs before the split: flat)
        config.update(config["reward"])
    algo = "airl" if "airl_reward" in config else "gail"
    if algo == "gail" and part is not None:
        raise CheckpointError(f"{run}: --part applies to AIRL runs; a GAIL run pays its reward form")
    part = (part or "g") if algo == "airl" else config["reward_form"]
    if algo == "airl" and part not in REWARD_PARTS:
        raise CheckpointError(f"--part: expected one of {REWARD_PARTS}, got {part!r}")
    env = _run_env(run, state)
    probe = env.make()
    obs_space, act_space = probe.observation_space, probe.action_space
    probe.close()
    gamma = float(config["ppo"]["gamma"])
    model = {
        "format": FORMAT,
        "version": VERSION,
        "algo": algo,
        "form": part,
        "gamma": gamma,
        "reward_clip": float(config["reward_clip"]),
        "absorbing": bool(config["absorbing"]),
        "env": env.to_dict(),
        "observation_space": describe_space(obs_space),
        "action_space": describe_space(act_space),
        "architecture": _architecture(config, algo),
    }
    net = _build(model, obs_space, act_space)
    try:
        net.load_state_dict(state["disc"])
    except (RuntimeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{run}: field 'disc' does not fit the run's reward model ({str(exc)[:200]})") from None
    model["obs_scaling"] = {"mean": net.scaling.mean.tolist(), "std": net.scaling.std.tolist()}
    weights = st_save({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()})
    model["sha256"] = _digest(model, weights)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / WEIGHTS_NAME, lambda tmp: Path(tmp).write_bytes(weights))
    atomic_write(out / JSON_NAME, lambda tmp: Path(tmp).write_text(json.dumps(model, indent=1)))
    return out


def _run_env(run: Path, state: dict) -> EnvFactory:
    """The run's env (id, kwargs, wrappers) from its ``config.json``, else the checkpoint's env id."""
    meta = run / "config.json" if run.is_dir() else run.parent / "config.json"
    if meta.is_file():
        try:
            data = json.loads(meta.read_text())
            if data.get("env_id") == state["env_id"] and "env" in data:
                return EnvFactory.from_dict(data["env"], source=str(meta))
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{meta}: not readable JSON ({exc})") from None
    return EnvFactory(state["env_id"])


def _architecture(config: dict, algo: str) -> dict[str, Any]:
    arch = {
        "hidden": list(config["disc_hidden"]),
        "activation": config["disc_activation"],
        "spectral_norm": bool(config["disc_spectral_norm"]),
        "cnn_features": int(config["disc_cnn_features"]),
        "hide_top_rows": int(config["disc_hide_top_rows"]),
        "use_action": bool(config["disc_use_action"]),
    }
    if algo == "airl":
        arch["h_hidden"] = list(config["airl_h_hidden"])
    else:
        arch["use_next_obs"] = bool(config["use_next_obs"])
    return arch


def _build(model: dict, obs_space: spaces.Space, act_space: spaces.Space) -> TransitionDiscriminator:
    """The reward net ``model`` describes (weights not loaded), built without touching torch's global RNG."""
    arch = model["architecture"]
    kw = {k: arch[k] for k in _NET_KEYS}
    kw["hidden"] = tuple(kw["hidden"])
    with torch.random.fork_rng():
        if model["algo"] == "airl":
            return AIRLRewardNet(
                obs_space,
                act_space,
                gamma=model["gamma"],
                h_hidden=tuple(arch["h_hidden"]),
                state_only=not arch["use_action"],
                **kw,
            )
        return TransitionDiscriminator(
            obs_space, act_space, use_next_obs=arch["use_next_obs"], use_action=arch["use_action"], **kw
        )


def _digest(model: dict, weights: bytes) -> str:
    body = {k: v for k, v in model.items() if k != "sha256"}
    return sha256_bytes(json.dumps(body, sort_keys=True).encode(), weights)


@dataclasses.dataclass
class LearnedReward:
    """A reward model read back by :func:`load_reward`; call it on a batch of transitions."""

    net: TransitionDiscriminator
    model: dict[str, Any]
    observation_space: spaces.Space
    action_space: spaces.Space

    @property
    def algo(self) -> str:
        return self.model["algo"]

    @property
    def form(self) -> str:
        return self.model["form"]

    @property
    def gamma(self) -> float:
        return float(self.model["gamma"])

    @property
    def env(self) -> EnvFactory:
        return EnvFactory.from_dict(self.model["env"])

    @torch.no_grad()
    def __call__(self, obs, acts, next_obs, dones) -> np.ndarray:
        """Rewards ``(B,)`` of transitions ``(obs, acts, next_obs)``; ``dones`` marks terminations."""
        dones = np.asarray(dones, dtype=bool).reshape(-1)
        n = len(dones)
        rows = concat([obs, next_obs])
        idx = np.arange(n)
        if self.algo == "airl":
            store = AIRLStore(rows, idx, np.asarray(acts), idx + n, dones=dones, log_pi=np.zeros(n, np.float32))
            r = self.net.part(self.net.features(store, idx), self.form)
        else:
            store = TransitionStore(rows, idx, np.asarray(acts), idx + n if self.net.use_next_obs else None)
            r = reward_from_form(self.net(self.net.features(store, idx)), self.form)
        clip = float(self.model["reward_clip"])
        r = (r.clamp(-clip, clip) if clip > 0 else r).cpu().numpy().astype(np.float32)
        if self.model["absorbing"] and dones.any():
            r = r + np.where(dones, self.absorbing_reward() * absorbing_tail_weight(self.gamma), 0.0).astype(np.float32)
        return r

    @torch.no_grad()
    def absorbing_reward(self) -> float:
        """``r_a``, the per-step reward of the absorbing state (its logit in the reward's form, clipped)."""
        logit = self.net.absorbing_logit
        form = self.form if self.algo == "gail" else "logit"  # AIRL's absorbing f = g = its logit
        return float(step_rewards(logit, form, float(self.model["reward_clip"])))


def reward_from_form(logits: torch.Tensor, form: str) -> torch.Tensor:
    """GAIL's reward of logits in ``form`` (unclipped; the caller clips)."""
    return step_rewards(logits, form, 0.0)


def load_reward(path: str | Path, *, device: str = "cpu") -> LearnedReward:
    """Read a reward written by :func:`export_reward` (a directory or its ``reward.json``), refusing
    damaged or foreign files in one line; nothing is unpickled."""
    root = Path(path)
    root = root.parent if root.name == JSON_NAME else root
    json_path, weights_path = root / JSON_NAME, root / WEIGHTS_NAME
    for p in (json_path, weights_path):
        if not p.is_file():
            raise CheckpointError(f"{p}: no such file (expected the output of `genplay reward export`)")
    try:
        model = json.loads(json_path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{json_path}: not readable JSON (damaged?)") from None
    if not isinstance(model, dict) or model.get("format") != FORMAT:
        raise CheckpointError(f"{json_path}: field 'format' must be {FORMAT!r}; not a genplay reward")
    if model.get("version") != VERSION:
        raise CheckpointError(f"{json_path}: field 'version' is {model.get('version')!r}, expected {VERSION}")
    weights = weights_path.read_bytes()
    if model.get("sha256") != _digest(model, weights):
        raise CheckpointError(f"{root}: checksum mismatch: {JSON_NAME} or {WEIGHTS_NAME} is damaged or was edited")
    try:
        from genplay.gail.saving.sb3_zip import space_from_description

        obs_space = space_from_description(model["observation_space"])
        act_space = space_from_description(model["action_space"])
        forms = REWARD_PARTS if model["algo"] == "airl" else GAIL_FORMS
        if model["algo"] not in ("airl", "gail") or model["form"] not in forms:
            raise ValueError(f"algo {model['algo']!r} with form {model['form']!r}")
        net = _build(model, obs_space, act_space)
        net.load_state_dict(st_load(weights))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        msg = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"{json_path}: malformed reward description ({type(exc).__name__}: {msg})") from None
    net = net.to(device).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return LearnedReward(net, model, obs_space, act_space)


def check_reward_env(reward: LearnedReward, observation_space: spaces.Space, action_space: spaces.Space, where: str):
    """Refuse an env whose spaces differ from the ones the reward was learned on (one line naming ``where``)."""
    for name, space in (("observation_space", observation_space), ("action_space", action_space)):
        why = space_mismatch(reward.model[name], describe_space(space))
        if why:
            raise CheckpointError(f"{where}: the reward's {name} is {why}")
