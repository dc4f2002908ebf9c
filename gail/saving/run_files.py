"""The files of a run directory, written and read without running code.

Every algorithm's run directory holds the same files: ``config.json``, an atomic
``checkpoint.pt``, ``policy.zip`` (SB3's layout, loadable by SB3 alone), ``history.json``,
``learning_curve.png`` and ``logs/``. This module writes the policy, history and logs of any
trainer, saves a whole run built in Python, and loads the policy back as a batched callable;
it knows no algorithm, so every algorithm and the run drivers (``gail/runs``) sit above it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from genplay.errors import CheckpointError, RunDirError
from genplay.gail.data.collect import PolicyFn, as_policy_fn
from genplay.gail.data.demos import save_demos
from genplay.gail.evaluation.plotting import plot_learning_curve
from genplay.gail.learners.learner import SB3Learner
from genplay.gail.saving.sb3_zip import load_sb3_zip, recorded_env_id, save_sb3_zip
from genplay.generative.core import atomic_write
from genplay.generative.core.rundir import RunDirLock

CHECKPOINT = "checkpoint.pt"
POLICY = "policy.zip"
RUN_MARKERS = (CHECKPOINT, "config.json", POLICY)


def run_algorithm(out: Path) -> str | None:
    """The algorithm whose run ``out`` holds, read from its ``config.json`` (None: no readable run there;
    the algorithm's own loader then says what is wrong with the directory)."""
    try:
        meta = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    if isinstance(meta.get("algo"), str):
        return meta["algo"]
    reward = meta.get("reward") if isinstance(meta.get("reward"), dict) else meta  # flat before the config split
    return "airl" if "airl_h_hidden" in reward else "gail"  # GAIL and AIRL runs written before "algo" was stored


def check_run_algorithm(out: str | Path, algo: str) -> None:
    """Refuse to resume ``out`` with ``algo`` when another algorithm's run is there: one line naming it."""
    have = run_algorithm(Path(out))
    if have is not None and have != algo:
        raise RunDirError(
            f"--resume: {out} holds a run of --algo {have}; resume it with --algo {have}, "
            "or start over there with --force"
        )


def set_run_logger(trainer: SB3Learner, log_dir: Path, *, append: bool) -> None:
    """TensorBoard + CSV logs in ``log_dir``; a resumed run appends to progress.csv instead of overwriting it."""
    from stable_baselines3.common.logger import CSVOutputFormat, Logger, make_output_format

    log_dir.mkdir(parents=True, exist_ok=True)
    csv_path = log_dir / "progress.csv"
    csv = _AppendingCSV(str(csv_path)) if append and csv_path.exists() else CSVOutputFormat(str(csv_path))
    formats = [csv, make_output_format("tensorboard", str(log_dir))]
    trainer.sb3_algorithm.set_logger(Logger(folder=str(log_dir), output_formats=formats))
    trainer.log_dir = str(log_dir)


class _AppendingCSV:
    """SB3's CSV writer continuing an existing progress.csv: its header's keys are kept, new rows go at the end."""

    def __new__(cls, filename: str):
        import csv

        from stable_baselines3.common.logger import CSVOutputFormat

        fmt = CSVOutputFormat.__new__(CSVOutputFormat)
        fmt.file = open(filename, "r+")  # noqa: SIM115 (closed by the logger)
        header = next(csv.reader(fmt.file), [])
        fmt.file.seek(0, 2)
        fmt.keys, fmt.separator, fmt.quotechar = list(header), ",", '"'
        return fmt


def export_policy(trainer: SB3Learner, out: Path) -> None:
    """Write the policy (GAIL's generator, DAC's Q-network) alone, as ``policy.zip``, and ``history.json``.

    The zip is SB3's layout, acting on the env's raw observations when SB3's own ``PPO.load`` /
    ``MaskablePPO.load`` / ``DQN.load`` opens it: the run's observation scaling (the trainer's frozen
    demo ``VecNormalize``) is put inside the policy's network (``sb3_zip.with_obs_scaling``); pixel
    policies centre frames in their ``CenteredNatureCNN`` already. Its ``genplay.json`` member holds
    everything genplay reads back without unpickling; ``extra.obs_scaling`` says where the scaling is.
    """
    from genplay.gail.rewards.features import CenteredNatureCNN, ObsScalingExtractor
    from genplay.gail.saving.sb3_zip import with_obs_scaling

    algo = trainer.sb3_algorithm
    norm = getattr(trainer, "policy_obs_norm", None)
    if norm is not None:
        algo = with_obs_scaling(algo, norm.obs_rms.mean, np.sqrt(norm.obs_rms.var + norm.epsilon), norm.clip_obs)
    inside = any(isinstance(m, (ObsScalingExtractor, CenteredNatureCNN)) for m in algo.policy.modules())
    meta: dict[str, Any] = {
        "normalize_obs": False,  # nothing to apply outside the network (older zips: True, with mean/var/clip)
        "obs_scaling": "in_network" if inside else "none",
        "env": trainer.demos.env_factory.to_dict(),
    }
    save_sb3_zip(algo, out / POLICY, extra=meta)
    (out / "policy.json").unlink(missing_ok=True)  # older runs' copy of the scaling, now inside the zip
    atomic_write(out / "history.json", lambda tmp: Path(tmp).write_text(json.dumps(trainer.history)))


def save_run_dir(trainer: SB3Learner, out_dir: str | Path, meta: dict[str, Any], title: str) -> Path:
    """A trainer built in Python written as the run directory its ``train`` command writes (the
    algorithms' ``save(DIR)``): ``config.json`` (``meta``), ``checkpoint.pt``, ``policy.zip``,
    ``history.json``, ``learning_curve.png`` (titled ``title``), and ``demos.npz`` (the demos
    ``--resume`` must be given again). The directory is locked while written; files of an
    earlier save there are replaced."""
    out = Path(out_dir)
    with RunDirLock(out):
        atomic_write(out / "config.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
        save_demos(out / "demos.npz", trainer.demos)
        trainer.save_checkpoint(out / CHECKPOINT)
        export_policy(trainer, out)
        plot_learning_curve(trainer.history, out / "learning_curve.png", title=f"{title} on {trainer.demos.env_id}")
    return out


def load_policy(
    run_dir: str | Path, *, deterministic: bool = True, env_id: str | None = None, other_env: bool = False
) -> PolicyFn:
    """A batched policy from a ``gail train`` output directory or a policy zip, loaded without unpickling.

    With ``env_id``, the policy's spaces must match that env's (and a third-party SB3 zip,
    which carries no readable spaces, is rebuilt on them), and a policy recorded on another
    env id is refused unless ``other_env`` (Pong and Space Invaders share their spaces).
    """
    model, normalize, _ = load_policy_model(run_dir, env_id=env_id, other_env=other_env)
    act = as_policy_fn(model, deterministic=deterministic)
    if normalize is None:
        return act
    return lambda obs, action_masks=None: act(normalize(obs), action_masks)


def load_policy_model(
    run_dir: str | Path, *, env_id: str | None = None, other_env: bool = False
) -> tuple[Any, Any | None, dict[str, Any]]:
    """``(SB3 model, observation normaliser or None, genplay extra)`` of a run dir or policy zip.

    The model takes the env's raw observations, except from zips exported before the scaling
    moved into the network: for those the normaliser maps raw observations to the policy's inputs
    (the run's demo scaling, read from ``genplay.json`` or, older still, ``policy.json``), else None.
    The extra is the zip's ``genplay.json`` payload (env factory, scaling). No unpickling.
    """
    from genplay.gail.rewards.features import ObsScalingExtractor

    path = Path(run_dir)
    zip_path = path / POLICY if path.is_dir() else path
    if not zip_path.exists():
        raise CheckpointError(f"{zip_path}: no trained policy here (expected the output dir of `genplay gail train`)")
    if not zip_path.is_file():
        raise CheckpointError(f"{zip_path}: not a file")
    recorded = recorded_env_id(zip_path)
    if env_id is not None and recorded is not None and recorded != env_id and not other_env:
        raise CheckpointError(  # before the env is made: nothing about the other env is printed first
            f"{zip_path}: the policy was trained on {recorded}, not {env_id}; pass --force to evaluate it there "
            "anyway (its observation and action spaces must still fit)"
        )
    env_spaces = {}
    if env_id is not None:
        from genplay.envs import make_env

        env = make_env(env_id)
        env_spaces = {"observation_space": env.observation_space, "action_space": env.action_space}
        env.close()
    model, extra = load_sb3_zip(zip_path, device="cpu", **env_spaces)
    if env_id is not None:
        from genplay.gail.data.spaces import describe_space, space_mismatch

        for name in ("observation_space", "action_space"):
            why = space_mismatch(describe_space(getattr(model, name)), describe_space(env_spaces[name]))
            if why:
                raise CheckpointError(f"{zip_path}: the policy's {name} is {why} for env {env_id}")
    legacy = zip_path.parent / "policy.json"
    if not extra and path.is_dir() and legacy.is_file():  # a run exported before genplay.json existed
        try:
            extra = json.loads(legacy.read_text())
        except (OSError, ValueError):
            raise CheckpointError(f"{legacy}: not readable JSON") from None
    extra = extra if isinstance(extra, dict) else {}
    recorded = extra.get("env", {}).get("env_id") if isinstance(extra.get("env"), dict) else None
    if env_id is not None and recorded is not None and recorded != env_id and not other_env:
        raise CheckpointError(
            f"{zip_path}: the policy was trained on {recorded}, not {env_id}; pass --force to evaluate it there anyway"
        )
    if not extra.get("normalize_obs"):
        return model, None, extra
    if any(isinstance(m, ObsScalingExtractor) for m in model.policy.modules()):
        raise CheckpointError(f"{zip_path}: the policy scales observations itself and genplay.json scales them too")
    try:
        mean, var, clip = np.asarray(extra["mean"], float), np.asarray(extra["var"], float), float(extra["clip"])
        shape = model.observation_space.shape
        assert mean.shape == var.shape == shape and np.isfinite(mean).all() and (var >= 0).all()
    except Exception:
        raise CheckpointError(f"{zip_path}: genplay.json's observation scaling is malformed") from None
    std = np.sqrt(var + 1e-8)
    return model, lambda obs: np.clip((obs - mean) / std, -clip, clip).astype(np.float32), extra
