"""One rank of tests/test_distributed.py, launched by ``torchrun --nproc_per_node 2`` (gloo, CPU).

Checks that N ranks on shares of a batch step exactly as one process on the whole batch
(discriminator core step, SB3 policy step with gradient clipping, return statistics),
then trains a tiny GAIL run with ``train_gail`` and records every rank's parameters.
Results go to ``OUT/rank{r}.json`` for the test to assert on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from genplay.gail.data.demos import load_demos
from genplay.generative.core import DiscriminatorStepConfig, discriminator_step, mlp
from genplay.generative.core import distributed as D


def max_diff(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(float((p - q).abs().max()) for p, q in zip(a.parameters(), b.parameters()))


def disc_step_check(ctx: D.DistContext) -> float:
    """3 core steps (BCE + R1, clipped) on each rank's share vs one process on the whole batch."""
    g = torch.Generator().manual_seed(1)
    n = 16
    real, fake = torch.randn(n, 4, generator=g), torch.randn(n, 4, generator=g) + 1.0
    cfg = DiscriminatorStepConfig(loss="bce", penalty="r1", penalty_weight=1.0, max_grad_norm=0.1)
    nets = []
    for _ in range(2):
        torch.manual_seed(0)
        nets.append(torch.nn.Sequential(mlp(4, 1, (32, 32)), torch.nn.Flatten(0)))  # (B,) logits
    ref, par = nets
    ref_opt, par_opt = torch.optim.Adam(ref.parameters(), 1e-2), torch.optim.Adam(par.parameters(), 1e-2)
    k = n // ctx.world_size
    mine = slice(ctx.rank * k, (ctx.rank + 1) * k)
    w_all, w_mine = torch.full((n,), 1.0 / n), torch.full((k,), 1.0 / k)
    for _ in range(3):
        discriminator_step(ref, ref_opt, real, fake, cfg, real_weights=w_all, fake_weights=w_all)
        discriminator_step(
            par,
            par_opt,
            real[mine],
            fake[mine],
            cfg,
            real_weights=w_mine,
            fake_weights=w_mine,
            grad_hook=lambda: D.allreduce_grads(par.parameters(), ctx),
        )
    return max_diff(ref, par)


def policy_step_check(ctx: D.DistContext) -> float:
    """4 SB3-style steps (backward, clip_grad_norm_, optimizer.step) under ``averaged_gradients``."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    algos = [PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=1), seed=0, device="cpu") for _ in range(2)]
    ref, par = (a.policy for a in algos)
    g = torch.Generator().manual_seed(2)
    n = 32
    obs, acts, adv = torch.randn(n, 4, generator=g), torch.randint(0, 2, (n,), generator=g), torch.randn(n, generator=g)
    k = n // ctx.world_size
    mine = slice(ctx.rank * k, (ctx.rank + 1) * k)

    def step(policy, rows: slice, value_loss: bool) -> None:
        values, logp, _ = policy.evaluate_actions(obs[rows], acts[rows])
        loss = -(logp * adv[rows]).mean()
        if value_loss:  # without it (a BC step) the value head gets no gradient and Adam must skip it
            loss = loss + ((values.flatten() - adv[rows]) ** 2).mean()
        policy.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 0.05)
        policy.optimizer.step()

    for i in range(4):
        step(ref, slice(None), i % 2 == 0)
        with D.averaged_gradients(par, ctx):
            step(par, mine, i % 2 == 0)
    return max_diff(ref, par)


def return_scaler_check(ctx: D.DistContext) -> float:
    """Each rank scales its own env's rewards; the statistics must be those of all envs in one process."""
    from genplay.gail.learners.rollout import ReturnScaler

    rng = np.random.default_rng(3)
    rewards = rng.normal(size=(20, ctx.world_size))
    dones = rng.random((20, ctx.world_size)) < 0.1
    ref, par = ReturnScaler(ctx.world_size, 0.9), ReturnScaler(1, 0.9, dist=ctx)
    for _ in range(2):
        ref(rewards, dones)
        par(rewards[:, ctx.rank : ctx.rank + 1], dones[:, ctx.rank : ctx.rank + 1])
    return float(abs(ref.rms.mean - par.rms.mean) + abs(ref.rms.var - par.rms.var) + abs(ref.rms.count - par.rms.count))


def gail_run(ctx: D.DistContext, demos_path: str, out: Path) -> list[float]:
    """A tiny GAIL run into ``out``; returns this rank's policy and discriminator parameters."""
    from genplay.gail.algos.config import replace
    from genplay.gail.algos.presets import preset
    from genplay.gail.runs.pipeline import train_gail

    config = replace(
        preset("CartPole-v1"),
        n_envs=2,
        ppo_n_steps=32,
        ppo_batch_size=32,
        ppo_n_epochs=2,
        disc_batch_size=32,
        disc_updates=2,
        checkpoint_every=0,
        device="cpu",
    )
    config = replace(config, bc_epochs=0)
    demos = load_demos(demos_path)
    trainer = train_gail("CartPole-v1", demos, 128, config=config, out_dir=out, shard_demos=True, dist=ctx)
    vec = torch.cat(
        [
            torch.nn.utils.parameters_to_vector(trainer.gen_algo.policy.parameters()),
            torch.nn.utils.parameters_to_vector(trainer.disc.parameters()),
        ]
    )
    return vec.detach().tolist()


def main() -> None:
    demos_path, out = sys.argv[1], Path(sys.argv[2])
    torch.set_num_threads(1)
    ctx = D.init_from_env("cpu")
    assert ctx is not None
    result = {
        "world_size": ctx.world_size,
        "backend": ctx.backend,
        "disc_step_diff": disc_step_check(ctx),
        "policy_step_diff": policy_step_check(ctx),
        "return_scaler_diff": return_scaler_check(ctx),
        "params": gail_run(ctx, demos_path, out / "run"),
    }
    (out / f"rank{ctx.rank}.json").write_text(json.dumps(result))
    D.shutdown()


if __name__ == "__main__":
    main()
