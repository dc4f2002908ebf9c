#!/usr/bin/env python
"""imitation 1.0.1's BC, DAgger, GAIL, AIRL and SQIL on a genplay demos file: ONE JSON line per run.

A measuring tool for ``scripts/bench_family.py --peer imitation`` (issue 29's head to head). It runs
only in the peers' venv (imitation pins gymnasium 0.29 and SB3 2.2; setup: ``scripts/peers/README.md``);
genplay never imports it, and it imports nothing from genplay.

What it does, for the algorithm named by ``--algo``:

1. reads the demos file that genplay wrote (``genplay.gail.data.demos.save_demos``: an ``.npz`` read
   with ``allow_pickle=False``) and turns each episode into an imitation ``Trajectory``;
2. trains imitation's algorithm with the settings of imitation's own docs and scripts
   (:data:`SETTINGS` says which, per algorithm and env) for ``--timesteps`` env steps;
3. plays the learned policy deterministically on the true reward, and a uniform-random policy,
   ``--eval-episodes`` each on the env seeds genplay's evaluation uses (10,000 + seed);
4. prints the keys bench_family prints, plus ``peer`` and the settings used.

``env_steps_per_second`` counts every env step taken during training (a counting wrapper
under imitation's own wrappers) over the training call's wall time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

PEER = "imitation-1.0.1"
ALGOS = ("bc", "dagger", "gail", "airl", "sqil")
ENVS = ("CartPole-v1", "Pendulum-v1")

# Settings, with their sources (imitation 1.0.1's docs/tutorials and imitation/scripts/config):
# - GAIL/AIRL: the existing harness imitation_gail.py (docs/tutorials/3_train_gail.ipynb for CartPole;
#   rl-zoo PPO as the Pendulum generator, the same discriminator settings);
# - BC: scripts/ingredients/bc.py (batch 32, l2 3e-5, Adam 4e-4, FeedForward32Policy) and
#   scripts/train_imitation.py's standalone BC budget (50,000 batches);
# - DAgger: SimpleDAggerTrainer with BC as above and train_imitation's 4 BC epochs per round, the
#   demos as its round-0 data, the default beta schedule (linear over 15 rounds), 8 envs;
# - SQIL: imitation.algorithms.sqil.SQIL with SB3's defaults ("MlpPolicy"): DQN for discrete actions
#   (train_imitation's sqil command), SAC through rl_algo_class for continuous ones, one env.
PPO_CARTPOLE = dict(batch_size=64, ent_coef=0.0, learning_rate=4e-4, gamma=0.95, n_epochs=5)
PPO_PENDULUM = dict(
    n_steps=1024,
    gae_lambda=0.95,
    gamma=0.9,
    n_epochs=10,
    ent_coef=0.0,
    learning_rate=1e-3,
    clip_range=0.2,
    use_sde=True,
    sde_sample_freq=4,
)
SETTINGS: dict[str, dict[str, Any]] = {
    "gail": {
        "CartPole-v1": dict(
            n_envs=8,
            ppo=PPO_CARTPOLE,
            adv=dict(demo_batch_size=1024, gen_replay_buffer_capacity=512, n_disc_updates_per_round=8),
        ),
        "Pendulum-v1": dict(
            n_envs=4,
            ppo=PPO_PENDULUM,
            adv=dict(demo_batch_size=1024, gen_replay_buffer_capacity=8192, n_disc_updates_per_round=8),
        ),
    },
    "bc": dict(batch_size=32, l2_weight=3e-5, lr=4e-4, n_batches=50_000),
    "dagger": dict(n_envs=8, bc_epochs_per_round=4),
    "sqil": dict(n_envs=1, learner={"CartPole-v1": "DQN", "Pendulum-v1": "SAC"}),
}
SETTINGS["airl"] = SETTINGS["gail"]


class InputError(Exception):
    """Bad input: one ``error:`` line naming the flag or file, and exit status 2."""


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its children, in MiB (ru_maxrss is KiB on Linux)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024.0, 1)


def read_demos(path: Path, env_id: str) -> tuple[list, float]:
    """The episodes of a genplay demos file as imitation ``Trajectory`` objects, and their mean return."""
    import numpy as np
    from imitation.data.types import Trajectory

    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"--demos {path}: not a readable genplay demos .npz ({exc})") from None
    missing = [k for k in ("metadata", "obs", "acts", "rewards", "episode_lengths", "terminated") if k not in data]
    if missing:
        raise InputError(f"--demos {path}: fields {missing} are missing (vector observations expected)")
    meta = json.loads(str(data["metadata"]))
    if meta.get("env_id") != env_id:
        raise InputError(f"--demos {path}: field 'env_id' is {meta.get('env_id')!r}, expected {env_id!r} (--env)")
    lengths = data["episode_lengths"].astype(np.int64)
    if int(lengths.sum()) != len(data["acts"]) or int((lengths + 1).sum()) != len(data["obs"]):
        raise InputError(f"--demos {path}: obs/acts rows do not match episode_lengths")
    trajs, o, a = [], 0, 0
    for n, term in zip(lengths.tolist(), data["terminated"].tolist()):
        obs = data["obs"][o : o + n + 1].astype(np.float32)
        trajs.append(Trajectory(obs=obs, acts=data["acts"][a : a + n], infos=None, terminal=bool(term)))
        o, a = o + n + 1, a + n
    returns = np.add.reduceat(data["rewards"].astype(np.float64), np.concatenate([[0], np.cumsum(lengths)[:-1]]))
    return trajs, float(returns.mean())


def load_genplay_expert(path: Path, venv, env_id: str):
    """An SB3 PPO policy with the weights of genplay's cached expert zip (read weights-only, never unpickled).

    genplay's ``genplay.json`` member gives the settings the policy's shape depends on (gSDE, net
    arch); the weights come from ``policy.pth`` through ``torch.load(weights_only=True)``.
    """
    import torch
    from stable_baselines3 import PPO

    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("genplay.json"))
            state = torch.load(io.BytesIO(zf.read("policy.pth")), weights_only=True, map_location="cpu")
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise InputError(f"--expert {path}: not a genplay expert zip ({exc})") from None
    if meta.get("algo") != "PPO" or meta.get("policy_kwargs"):
        raise InputError(f"--expert {path}: expected a PPO MlpPolicy with default net arch, got {meta.get('algo')}")
    hyper = meta.get("hyper", {})
    model = PPO("MlpPolicy", venv, use_sde=bool(hyper.get("use_sde")), device="cpu", verbose=0)
    try:
        model.policy.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(f"--expert {path}: weights do not fit {env_id}'s PPO policy ({exc})") from None
    model.policy.set_training_mode(False)
    return model.policy


def make_venv(env_id: str, n_envs: int, seed: int, counter: dict[str, int]):
    """imitation's vector env (RolloutInfoWrapper on each env) under a wrapper counting env steps."""
    import numpy as np
    from imitation.data.wrappers import RolloutInfoWrapper
    from imitation.util.util import make_vec_env
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class StepCounter(VecEnvWrapper):
        def reset(self):
            return self.venv.reset()

        def step_wait(self):
            counter["steps"] += self.num_envs
            return self.venv.step_wait()

    post = [lambda env, _: RolloutInfoWrapper(env)]
    return StepCounter(make_vec_env(env_id, rng=np.random.default_rng(seed), n_envs=n_envs, post_wrappers=post))


def eval_returns(env_id: str, policy: Any, n: int, seed: int) -> Any:
    """True returns of ``n`` deterministic episodes (SB3's evaluate_policy, ``min(n, 16)`` envs seeded
    from ``seed`` as genplay's evaluation does); ``policy`` None plays uniformly random actions."""
    import numpy as np
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    venv = make_vec_env(env_id, n_envs=min(n, 16), seed=seed)
    if policy is None:
        space = venv.action_space
        space.seed(seed)

        class Random:
            def predict(self, obs, state=None, episode_start=None, deterministic=True):
                return np.stack([space.sample() for _ in range(len(obs))]), None

        policy = Random()
    returns, _ = evaluate_policy(policy, venv, n_eval_episodes=n, deterministic=True, return_episode_rewards=True)
    venv.close()
    return np.asarray(returns, dtype=np.float64)


def train(args: argparse.Namespace, trajs: list, log_dir: str) -> tuple[Any, dict[str, int], dict]:
    """Build and train imitation's algorithm; returns (policy to evaluate, env-step counter, settings)."""
    from imitation.util import logger as imit_logger

    counter = {"steps": 0}
    quiet = imit_logger.configure(log_dir, ["csv"])  # imitation's logs to a temp dir, none on stdout
    if args.algo in ("gail", "airl"):
        return _adversarial(args, trajs, log_dir, counter, quiet)
    if args.algo in ("bc", "dagger"):
        return _cloning(args, trajs, log_dir, counter, quiet)
    return _sqil(args, trajs, counter, quiet)


def _adversarial(args: argparse.Namespace, trajs: list, log_dir: str, counter: dict, quiet) -> tuple[Any, dict, dict]:
    """imitation's GAIL (BasicRewardNet) or AIRL (BasicShapedRewardNet) on its PPO generator."""
    from imitation.algorithms.adversarial.airl import AIRL
    from imitation.algorithms.adversarial.gail import GAIL
    from imitation.rewards.reward_nets import BasicRewardNet, BasicShapedRewardNet
    from imitation.util.networks import RunningNorm
    from stable_baselines3 import PPO

    cfg = SETTINGS[args.algo][args.env]
    venv = make_venv(args.env, cfg["n_envs"], args.seed, counter)
    learner = PPO(env=venv, policy="MlpPolicy", seed=args.seed, device="cpu", verbose=0, **cfg["ppo"])
    net_cls = BasicShapedRewardNet if args.algo == "airl" else BasicRewardNet
    reward_net = net_cls(venv.observation_space, venv.action_space, normalize_input_layer=RunningNorm)
    trainer_cls = AIRL if args.algo == "airl" else GAIL
    trainer = trainer_cls(
        demonstrations=trajs,
        venv=venv,
        gen_algo=learner,
        reward_net=reward_net,
        allow_variable_horizon=args.env == "CartPole-v1",
        custom_logger=quiet,
        log_dir=log_dir,
        **cfg["adv"],
    )
    trainer.train(args.timesteps)
    return learner, counter, {**cfg, "ppo": {**cfg["ppo"]}}


def _cloning(args: argparse.Namespace, trajs: list, log_dir: str, counter: dict, quiet) -> tuple[Any, dict, dict]:
    """imitation's BC on the demos, or SimpleDAggerTrainer (the demos as round 0, genplay's expert queried)."""
    import numpy as np
    from imitation.algorithms import bc

    cfg, rng = SETTINGS["bc"], np.random.default_rng(args.seed)
    venv = make_venv(args.env, SETTINGS["dagger"]["n_envs"], args.seed, counter)
    kw = dict(batch_size=cfg["batch_size"], l2_weight=cfg["l2_weight"], optimizer_kwargs=dict(lr=cfg["lr"]))
    spaces = dict(observation_space=venv.observation_space, action_space=venv.action_space)
    if args.algo == "bc":
        cloner = bc.BC(**spaces, rng=rng, demonstrations=trajs, custom_logger=quiet, **kw)
        cloner.train(n_batches=cfg["n_batches"], progress_bar=False)
        return cloner.policy, counter, dict(cfg)
    from imitation.algorithms.dagger import SimpleDAggerTrainer

    expert_file = Path(args.expert or default_expert(args.env))
    expert = load_genplay_expert(expert_file, venv, args.env)
    cloner = bc.BC(**spaces, rng=rng, custom_logger=quiet, **kw)
    dagger = SimpleDAggerTrainer(
        venv=venv,
        scratch_dir=os.path.join(log_dir, "scratch"),
        expert_policy=expert,
        rng=rng,
        expert_trajs=trajs,
        bc_trainer=cloner,
        custom_logger=quiet,
    )
    n_epochs = SETTINGS["dagger"]["bc_epochs_per_round"]
    # log_rollouts_venv=None: BC's logging rollouts would step the training venv (and be counted as training)
    dagger.train(args.timesteps, bc_train_kwargs=dict(n_epochs=n_epochs, progress_bar=False, log_rollouts_venv=None))
    bc_settings = {k: v for k, v in cfg.items() if k != "n_batches"}  # standalone BC's budget, not DAgger's
    return cloner.policy, counter, {**bc_settings, **SETTINGS["dagger"], "expert": str(expert_file)}


def _sqil(args: argparse.Namespace, trajs: list, counter: dict, quiet) -> tuple[Any, dict, dict]:
    """imitation's SQIL: SB3's DQN (discrete actions) or SAC (continuous, through rl_algo_class), SB3 defaults."""
    from imitation.algorithms.sqil import SQIL
    from stable_baselines3 import DQN, SAC

    learner_name = SETTINGS["sqil"]["learner"][args.env]
    venv = make_venv(args.env, SETTINGS["sqil"]["n_envs"], args.seed, counter)
    sqil = SQIL(
        venv=venv,
        demonstrations=trajs,
        policy="MlpPolicy",
        custom_logger=quiet,
        rl_algo_class=DQN if learner_name == "DQN" else SAC,
        rl_kwargs=dict(seed=args.seed, device="cpu"),
    )
    sqil.train(total_timesteps=args.timesteps, progress_bar=False)
    return sqil.policy, counter, {"learner": learner_name, "rl_kwargs": "SB3 defaults"}


def default_expert(env_id: str) -> Path:
    """genplay's cached PPO expert of ``env_id`` (``$GENPLAY_CACHE_DIR`` or ``~/.cache/genplay``)."""
    root = Path(os.environ.get("GENPLAY_CACHE_DIR", Path.home() / ".cache" / "genplay"))
    return root / "experts" / f"{env_id}__ppo__seed0.zip"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", required=True, choices=ALGOS)
    p.add_argument("--env", required=True, choices=ENVS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--n-demo", type=int, default=20, help="episodes bench_family asked for (the file's count is reported)"
    )
    p.add_argument("--demos", required=True, help="a genplay demos .npz (bench_family writes it)")
    p.add_argument("--timesteps", type=int, default=100_000, help="training env steps (BC: none)")
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--expert", default=None, help="DAgger: genplay expert zip (default: the cached PPO expert)")
    p.add_argument("--out", default=None, help="append the JSON line to this file")
    args = p.parse_args()
    try:
        line = run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    text = json.dumps(line)
    print(text, flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One run: read the demos, train, evaluate; the JSON line's fields."""
    if args.timesteps < 1 and args.algo != "bc":
        raise InputError(f"--timesteps: expected >= 1, got {args.timesteps}")
    if args.eval_episodes < 1:
        raise InputError(f"--eval-episodes: expected >= 1, got {args.eval_episodes}")
    import imitation
    import stable_baselines3 as sb3
    import torch
    from stable_baselines3.common.utils import set_random_seed

    torch.set_num_threads(args.torch_threads)
    trajs, expert_return = read_demos(Path(args.demos), args.env)
    set_random_seed(args.seed)
    load_before = os.getloadavg()[0]
    t_start, c_start = time.perf_counter(), time.process_time()  # as genplay's: the whole train entry, build included
    with tempfile.TemporaryDirectory(prefix="imitation-family-") as log_dir:
        policy, counter, settings = train(args, trajs, log_dir)
        train_s, train_cpu_s = time.perf_counter() - t_start, time.process_time() - c_start
    steps = counter["steps"]
    n, eval_seed = args.eval_episodes, 10_000 + args.seed
    learned = eval_returns(args.env, policy, n, eval_seed)
    rand = float(eval_returns(args.env, None, n, eval_seed).mean())
    span = expert_return - rand
    return {
        "algo": args.algo,
        "env": args.env,
        "seed": args.seed,
        "n_demo": len(trajs),
        "timesteps": steps,
        "learned_return_mean": float(learned.mean()),
        "learned_return_std": float(learned.std()),
        "expert_return": expert_return,
        "random_return": rand,
        "normalised": float((learned.mean() - rand) / span) if abs(span) > 1e-8 else None,
        "env_steps_per_second": round(steps / train_s, 1) if steps else None,
        "wall_s": round(time.perf_counter() - t_start, 1),
        "train_s": round(train_s, 2),
        "train_cpu_s": round(train_cpu_s, 2),
        "peak_rss_mb": peak_rss_mb(),
        "peer": PEER,
        "settings": settings,
        "loadavg1_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "versions": {"imitation": imitation.__version__, "sb3": sb3.__version__, "torch": torch.__version__},
    }


if __name__ == "__main__":
    main()
