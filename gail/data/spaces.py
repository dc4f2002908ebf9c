"""Gymnasium spaces as JSON: the description every genplay file stores (demos, policies, rewards,
scorers) and the checks that two descriptions fit, so a file made for one env is refused, by
field, on another."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from genplay.errors import EnvError


def describe_space(space: spaces.Space) -> dict[str, Any]:
    """A JSON-able description of a space, precise enough to check compatibility."""
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": str(space.dtype),
            "low": np.asarray(space.low, dtype=np.float64).ravel().tolist(),
            "high": np.asarray(space.high, dtype=np.float64).ravel().tolist(),
        }
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start), "shape": [], "dtype": "int64"}
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist(), "shape": list(space.shape), "dtype": "int64"}
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "shape": list(space.shape), "dtype": "int8"}
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {k: describe_space(s) for k, s in space.spaces.items()}}
    raise EnvError(f"unsupported space {space!r}: genplay handles Box, Discrete, MultiDiscrete, MultiBinary, Dict")


REQUIRED_KEYS = {
    "Box": ("shape", "dtype", "low", "high"),
    "Discrete": ("n", "start"),
    "MultiDiscrete": ("nvec", "shape"),
    "MultiBinary": ("shape",),
    "Dict": ("spaces",),
}


def malformed_space(desc: Any) -> str | None:
    """Why a stored space description cannot be used, or None if it is well formed."""
    if not isinstance(desc, dict):
        return f"expected a JSON object, got {type(desc).__name__}"
    kind = desc.get("type")
    if kind not in REQUIRED_KEYS:
        return f"unknown space type {kind!r}; expected one of {sorted(REQUIRED_KEYS)}"
    missing = [k for k in REQUIRED_KEYS[kind] if k not in desc]
    if missing:
        return f"a {kind} space needs {missing}"
    if kind == "Dict":
        if not isinstance(desc["spaces"], dict):
            return "'spaces' must be an object"
        for key, sub in desc["spaces"].items():
            why = malformed_space(sub)
            if why:
                return f"key {key!r}: {why}"
    return None


def space_mismatch(saved: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """Describe how two space descriptions differ, or None if they are compatible."""
    if saved.get("type") != expected["type"]:
        return f"a {saved.get('type')} space, expected {expected['type']}"
    if expected["type"] == "Dict":
        if sorted(saved.get("spaces", {})) != sorted(expected["spaces"]):
            return f"keys {sorted(saved.get('spaces', {}))}, expected {sorted(expected['spaces'])}"
        for key, sub in expected["spaces"].items():
            why = space_mismatch(saved["spaces"][key], sub)
            if why:
                return f"key {key!r}: {why}"
        return None
    for attr in ("shape", "dtype", "n", "start", "nvec"):
        if attr in expected and saved.get(attr) != expected[attr]:
            return f"{attr} {saved.get(attr)}, expected {expected[attr]}"
    if expected["type"] == "Box":
        low, high = np.asarray(saved.get("low", [])), np.asarray(saved.get("high", []))
        if low.shape != np.asarray(expected["low"]).shape or not (
            np.allclose(low, expected["low"], equal_nan=True) and np.allclose(high, expected["high"], equal_nan=True)
        ):
            return "different bounds (low/high)"
    return None
