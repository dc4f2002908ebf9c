"""A checkpoint file format that never runs code from the file: JSON + safetensors, checksummed.

``save_state(path, state)`` writes a nested dict of tensors, numpy arrays, bytes and
JSON-able values (dicts with any str/int keys, lists, tuples, numbers, strings, None)
as a zip of two members, ``state.json`` (the tree, tensors replaced by references) and
``tensors.safetensors``, plus ``sha256`` over both. ``load_state`` checks the checksum
before decoding anything, so damaged bytes are refused (one-line ``CheckpointError``
naming the file) rather than trained on, and nothing in the file is ever unpickled.
Every trainer in the project (GAIL now, the GANs later) saves through these two calls.

numpy RNG states (``Generator.bit_generator.state``) are dicts of ints and go to JSON
as they are (Python's JSON keeps big ints exactly); torch RNG states are uint8 tensors.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from genplay.errors import CheckpointError
from genplay.generative.core.utils import atomic_write

FORMAT = "genplay-state"
FORMAT_VERSION = 1
_JSON, _TENSORS, _SHA = "state.json", "tensors.safetensors", "sha256"
_TAGS = ("__tensor__", "__ndarray__", "__bytes__", "__tuple__", "__dict__", "__float__")


def _digest(tree: bytes, tensors: bytes) -> str:
    h = hashlib.sha256()
    h.update(len(tree).to_bytes(8, "little"))
    h.update(tree)
    h.update(tensors)
    return h.hexdigest()


def _encode(value: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    if isinstance(value, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = value.detach().to("cpu").contiguous().clone()
        _check_finite(tensors[key], where, saving=True)
        return {"__tensor__": key}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{where}: cannot store a numpy array of dtype {value.dtype}")
        key = f"t{len(tensors)}"
        tensors[key] = torch.from_numpy(np.ascontiguousarray(value).copy())
        _check_finite(tensors[key], where, saving=True)
        return {"__ndarray__": key}
    if isinstance(value, (bytes, bytearray)):
        key = f"t{len(tensors)}"
        tensors[key] = (
            torch.tensor(list(value), dtype=torch.uint8)
            if len(value) < 64
            else torch.frombuffer(bytearray(value), dtype=torch.uint8)
        )
        return {"__bytes__": key}
    if isinstance(value, np.generic):
        return _encode(value.item(), tensors, where)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}  # nan/inf outside strict JSON
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: _encode(v, tensors, f"{where}.{k}") for k, v in value.items()}
        for k in value:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"{where}: dict key {k!r} is not a str or int")
        return {"__dict__": [[k, _encode(v, tensors, f"{where}.{k}")] for k, v in value.items()]}
    raise TypeError(f"{where}: cannot store a {type(value).__name__} (only tensors, arrays, bytes and JSON values)")


def _decode(value: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors, where) for v in value]
    if not isinstance(value, dict):
        return value
    tag = next((t for t in _TAGS if t in value), None)
    if tag is None:
        return {k: _decode(v, tensors, f"{where}.{k}") for k, v in value.items()}
    arg = value[tag]
    if tag in ("__tensor__", "__ndarray__", "__bytes__"):
        if arg not in tensors:
            raise ValueError(f"{where} refers to a missing tensor {arg!r}")
        t = tensors[arg]
        _check_finite(t, where, saving=False)
        if tag == "__tensor__":
            return t
        return t.numpy() if tag == "__ndarray__" else t.numpy().tobytes()
    if tag == "__float__":
        if arg not in ("nan", "inf", "-inf"):
            raise ValueError(f"{where}: bad float {arg!r}")
        return float(arg)
    if tag == "__tuple__":
        return tuple(_decode(v, tensors, where) for v in arg)
    return {k: _decode(v, tensors, f"{where}.{k}") for k, v in arg}


class NonFiniteState(CheckpointError):
    """A tensor of a state holds NaN or inf: never written (the last good file stays), never loaded."""


def _check_finite(t: torch.Tensor, where: str, *, saving: bool) -> None:
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        what = "not saved (the last good checkpoint is kept)" if saving else "refusing to use it"
        raise NonFiniteState(f"{where} holds NaN or inf values; {what}")


def state_to_bytes(state: dict) -> bytes:
    """The file's bytes for ``state`` (see the module docstring)."""
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    tensors: dict[str, torch.Tensor] = {}
    tree = {"format": FORMAT, "version": FORMAT_VERSION, "state": _encode(state, tensors, "state")}
    tree_bytes = json.dumps(tree, allow_nan=False).encode()
    tensor_bytes = st_save(tensors) if tensors else b""
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_JSON, tree_bytes)
        zf.writestr(_TENSORS, tensor_bytes)
        zf.writestr(_SHA, _digest(tree_bytes, tensor_bytes))
    return blob.getvalue()


def state_from_bytes(data: bytes, name: str = "<bytes>") -> dict:
    """Inverse of :func:`state_to_bytes`; any problem is one ``CheckpointError`` naming ``name``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = set(zf.namelist())
            missing = {_JSON, _TENSORS, _SHA} - members
            if any(m.endswith("data.pkl") for m in members):
                raise CheckpointError(
                    f"{name}: a torch pickle (e.g. a checkpoint of an older genplay), not a genplay state file; "
                    "pickles are never loaded because they can run code"
                )
            if missing:
                raise CheckpointError(f"{name}: not a genplay state file (missing {sorted(missing)})")
            tree_bytes, tensor_bytes, sha = zf.read(_JSON), zf.read(_TENSORS), zf.read(_SHA).decode("ascii", "replace")
    except CheckpointError:
        raise
    except Exception as exc:  # zipfile raises BadZipFile, CRC errors, EOFError, ...
        if "CRC" in str(exc):
            raise CheckpointError(
                f"{name}: checksum mismatch (CRC-32): the file is damaged; refusing to use it"
            ) from None
        raise CheckpointError(f"{name}: not a readable genplay state file ({type(exc).__name__}: {exc})") from None
    if _digest(tree_bytes, tensor_bytes) != sha.strip():
        raise CheckpointError(f"{name}: checksum mismatch: the file is damaged; refusing to use it")
    try:
        tree = json.loads(tree_bytes)
        if not isinstance(tree, dict) or tree.get("format") != FORMAT:
            raise ValueError(f"'format' is not {FORMAT!r}")
        if tree.get("version") != FORMAT_VERSION:
            raise ValueError(f"'version' is {tree.get('version')!r}, this genplay reads {FORMAT_VERSION}")
        tensors = st_load(tensor_bytes) if tensor_bytes else {}
        state = _decode(tree["state"], tensors, "state")
    except NonFiniteState as exc:
        raise NonFiniteState(f"{name}: {exc}") from None
    except Exception as exc:
        raise CheckpointError(f"{name}: not a valid genplay state file ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{name}: not a valid genplay state file (the state is not a dict)")
    return state


def save_state(path: str | Path, state: dict) -> None:
    """Write ``state`` atomically to ``path`` (a kill during the write leaves the old file)."""
    try:
        data = state_to_bytes(state)
    except NonFiniteState as exc:
        raise NonFiniteState(f"{path}: {exc}") from None
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def load_state(path: str | Path) -> dict:
    """Read a file written by :func:`save_state`, refusing missing, damaged or foreign files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror})") from None
    return state_from_bytes(data, str(path))


def sha256_bytes(*parts: bytes) -> str:
    """sha256 over ``parts`` (each length-prefixed, so the split matters)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.hexdigest()
