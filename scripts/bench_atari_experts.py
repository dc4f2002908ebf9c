#!/usr/bin/env python
"""A scripted Atari expert's score and imitability: full games, random play, BC's held-out accuracy.

Plays ``--games`` full sticky games of the game's expert of ``--kind`` (``imitable``: acts once
per agent step on what the frames show, the demos' default; ``planner``: the RAM planner, the
contrast) and ``--random-games`` of uniform-random play. Then pixel BC (SB3's CnnPolicy, the
policy the pixel learners use, fitted by ``gail.algos.bc.bc_pretrain``: early-stopped on held-out
training episodes) learns from the first ``--bc-train-games`` games and is scored on the frames
of the next ``--bc-test-games`` games, which it never saw: ``bc_action_accuracy`` is the share
of those frames where its most likely action is the expert's (``bc_balanced_accuracy``: the same
averaged over the expert's actions; ``majority_accuracy``: always the training games' most common
action, for scale). ``--bc-balanced`` weights each action's rows by the inverse of its share of the
training rows (early stopping on the same balanced loss), so BC cannot score well by playing the
majority action (Pong's NOOP, Freeway's UP) everywhere. The expert games are cached
(``GENPLAY_CACHE_DIR``/atari_demos). CPU-sized: at most ``--bc-max-train`` training and
``--bc-max-test`` test transitions, drawn uniformly. Prints one line per game, then ONE JSON line.

``--bc-curve 1,3,5,10,20`` (the few-demo curve) prints instead one JSON line per (number of demo
games, seed): BC's mean return over ``--eval-games`` full games, sampled and greedy.

    nice -n 10 python scripts/bench_atari_experts.py --game pong --games 10
    nice -n 10 python scripts/bench_atari_experts.py --game pong --kind planner --games 10
    nice -n 10 python scripts/bench_atari_experts.py --game pong --games 10 --bc-balanced
    nice -n 10 python scripts/bench_atari_experts.py --game pong --games 20 --bc-curve 1,3,5,10,20 --curve-seeds 0
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import torch
from benchlib import ArgumentParser, count, emit, run_main

from genplay.envs.atari import make_atari
from genplay.envs.atari_experts import EXPERT_KINDS, RandomExpert, expert_games, play_game

_positive = count(1)


@dataclass(frozen=True)
class BCSizes:
    """How much pixel BC sees (CPU-sized)."""

    max_train: int = 5_000
    max_test: int = 3_000
    epochs: int = 15
    patience: int = 3
    batch_size: int = 64
    lr: float = 1e-3
    balanced: bool = False
    """Class-balanced loss: each action's rows weighted by the inverse of its share of the training rows."""


def parse() -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--game", default="pong", help=f"one of {', '.join(expert_games())}")
    p.add_argument("--kind", choices=EXPERT_KINDS, default="imitable")
    p.add_argument("--games", type=_positive, default=10, help="expert games (full, sticky)")
    p.add_argument("--random-games", type=count(0), default=3)
    p.add_argument("--seed", type=count(0), default=0)
    p.add_argument("--bc-train-games", type=_positive, default=5)
    p.add_argument("--bc-test-games", type=_positive, default=2)
    p.add_argument("--bc-max-train", type=_positive, default=BCSizes.max_train, help="training transitions, at most")
    p.add_argument("--bc-max-test", type=_positive, default=BCSizes.max_test, help="test transitions, at most")
    p.add_argument("--bc-epochs", type=_positive, default=BCSizes.epochs)
    p.add_argument(
        "--bc-balanced",
        action="store_true",
        help="class-balanced BC loss (inverse action frequency), so a majority action cannot carry the fit",
    )
    p.add_argument("--no-bc", dest="bc", action="store_false", help="expert and random scores only")
    p.add_argument("--bc-curve", default=None, metavar="N1,N2,...", help="few-demo curve: BC from N games each")
    p.add_argument("--curve-seeds", default="0", metavar="S1,S2,...", help="BC seeds of each curve point")
    p.add_argument("--eval-games", type=_positive, default=3, help="curve: full games per BC policy")
    p.add_argument("--threads", type=_positive, default=1, help="torch threads")
    p.add_argument("--out", default=None, help="also append the JSON line(s) to this file")
    args = p.parse_args()
    if args.game not in expert_games(args.kind):
        have = ", ".join(expert_games(args.kind))
        p.error(f"--game: no {args.kind} expert for {args.game!r}; expected one of {have}")
    args.curve = _int_list(p, "--bc-curve", args.bc_curve) if args.bc_curve else None
    args.seeds = _int_list(p, "--curve-seeds", args.curve_seeds)
    if args.curve and max(args.curve) > args.games:
        p.error(f"--bc-curve: needs at most --games ({args.games}) demo games, got {max(args.curve)}")
    if not args.curve and args.bc and args.bc_train_games + args.bc_test_games > args.games:
        p.error(
            f"--bc-train-games + --bc-test-games: expected at most --games ({args.games}), "
            f"got {args.bc_train_games} + {args.bc_test_games}"
        )
    return args


def _int_list(p: argparse.ArgumentParser, flag: str, text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        p.error(f"{flag}: expected comma-separated whole numbers, got {text!r}")
    if not values or min(values) < (1 if flag == "--bc-curve" else 0):
        p.error(f"{flag}: expected {'positive' if flag == '--bc-curve' else 'non-negative'} numbers, got {text!r}")
    return values


def expert_demos(game: str, kind: str, n_games: int, seed: int):
    """``n_games`` full sticky games of the expert, as frame demos (cached in the genplay cache, as
    ``scripts/bench_atari.py`` caches its demos), and CPU seconds per game (None when cached)."""
    from genplay.gail.data.demos import load_demos, save_demos
    from genplay.gail.data.experts import cache_dir
    from genplay.gail.suites.atari import atari_factory, scripted_expert_demos

    path = cache_dir() / "atari_demos" / f"{game}-{kind}-{n_games}-seed{seed}.npz"
    if path.exists():
        return load_demos(path), None
    start = time.process_time()
    demos = scripted_expert_demos(atari_factory(game), n_games, seed=seed, progress=True, kind=kind)
    seconds = (time.process_time() - start) / n_games
    path.parent.mkdir(parents=True, exist_ok=True)
    save_demos(path, demos)
    return demos, seconds


def random_scores(game: str, n_games: int) -> list[float]:
    env = make_atari(game, record_ram=True)
    n = env.action_space.n
    scores = [
        play_game(env, RandomExpert(np.random.default_rng(10_000 + i), n), seed=10_000 + i).score
        for i in range(n_games)
    ]
    env.close()
    return scores


def game_rows(demos, games: range, cap: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Transition indices of ``games`` (at most ``cap``, drawn uniformly, in order) and each one's game."""
    ends = np.cumsum(demos.episode_lengths)
    starts = ends - demos.episode_lengths
    idx = np.concatenate([np.arange(starts[g], ends[g]) for g in games])
    if len(idx) > cap:
        idx = np.sort(rng.choice(idx, size=cap, replace=False))
    return idx, np.searchsorted(ends, idx, side="right")


def fit_bc(demos, games: range, sizes: BCSizes, seed: int):
    """A fresh CnnPolicy cloned on ``games`` of ``demos``; returns it and the fit's statistics."""
    from stable_baselines3.common.policies import ActorCriticCnnPolicy

    from genplay.gail.algos.bc import bc_pretrain, fit_early_stopped

    rng = np.random.default_rng(seed)
    idx, game_of = game_rows(demos, games, sizes.max_train, rng)
    obs_rows, _ = demos.transition_indices()
    torch.manual_seed(seed)
    env = make_atari(demos.env.atari_config.game)
    policy = ActorCriticCnnPolicy(env.observation_space, env.action_space, lr_schedule=lambda _: sizes.lr)
    env.close()
    lengths = np.unique(game_of, return_counts=True)[1]
    obs, acts = demos.obs.subset(obs_rows[idx]), demos.acts[idx]
    if not sizes.balanced:
        stats = bc_pretrain(
            policy, obs, acts, episode_lengths=lengths, max_epochs=sizes.epochs,
            patience=sizes.patience, batch_size=sizes.batch_size, lr=sizes.lr, rng=rng,
        )  # fmt: skip
        return policy, {**stats, "bc_train_transitions": len(idx)}
    nll = balanced_nll(policy, obs, acts)
    train_loss, best, epochs = fit_early_stopped(
        policy, nll, lambda rows: chunked_mean(nll, rows), episode_lengths=lengths, max_epochs=sizes.epochs,
        patience=sizes.patience, batch_size=sizes.batch_size, lr=sizes.lr, rng=rng, tol=1e-4,
    )  # fmt: skip
    stats = {"bc_loss": train_loss, "bc_heldout_loss": best, "bc_epochs": float(epochs)}
    return policy, {**stats, "bc_train_transitions": len(idx)}


def action_weights(acts: np.ndarray, n_actions: int) -> np.ndarray:
    """Inverse-frequency weight of each action (mean 1 over ``acts``; 0 for actions never taken), so
    every action the expert takes counts as much in the loss as the majority action."""
    counts = np.bincount(np.asarray(acts, dtype=np.int64), minlength=n_actions).astype(np.float64)
    seen = counts > 0
    weights = np.zeros(n_actions)
    weights[seen] = len(acts) / (seen.sum() * counts[seen])
    return weights


def balanced_nll(policy, obs, acts: np.ndarray):
    """``nll(idx)``: the class-balanced mean negative log-likelihood of the demo actions ``idx``."""
    acts_t = torch.as_tensor(acts, device=policy.device)
    weights_t = torch.as_tensor(action_weights(acts, policy.action_space.n)[acts], dtype=torch.float32)

    def nll(idx: np.ndarray) -> torch.Tensor:
        log_prob = policy.get_distribution(policy.obs_to_tensor(obs[idx])[0]).log_prob(acts_t[idx])
        return -(weights_t[idx].to(log_prob.device) * log_prob).mean()

    return nll


@torch.no_grad()
def chunked_mean(nll, idx: np.ndarray, chunk: int = 512) -> float:
    """``nll`` over ``idx`` in chunks (memory stays flat for frame stacks), weighted by chunk size."""
    parts = np.array_split(idx, max(1, len(idx) // chunk))
    return float(np.average([float(nll(part)) for part in parts], weights=[len(part) for part in parts]))


@torch.no_grad()
def action_accuracy(policy, demos, games: range, cap: int, seed: int) -> tuple[float, float, int, np.ndarray]:
    """Share of ``games``' transitions (at most ``cap``) where ``policy``'s likeliest action is the demo's,
    the same averaged over the demo's actions (balanced: a constant policy scores 1 / actions seen),
    the transitions scored and their demo actions."""
    idx, _ = game_rows(demos, games, cap, np.random.default_rng(seed + 1))
    obs_rows, _ = demos.transition_indices()
    predicted = np.concatenate(
        [
            policy.get_distribution(policy.obs_to_tensor(demos.obs[obs_rows[part]])[0]).mode().cpu().numpy()
            for part in np.array_split(idx, max(1, len(idx) // 256))
        ]
    )
    acts = demos.acts[idx]
    balanced = float(np.mean([np.mean(predicted[acts == a] == a) for a in np.unique(acts)]))
    return float(np.mean(predicted == acts)), balanced, len(idx), acts


@torch.no_grad()
def bc_returns(policy, game: str, n_games: int, *, deterministic: bool, seed: int) -> list[float]:
    """Full sticky games of ``policy`` acting on the frame stacks (sampled or greedy)."""
    env = make_atari(game)
    scores = []
    for i in range(n_games):
        obs, _ = env.reset(seed=50_000 + seed * 1_000 + i)
        total, done = 0.0, False
        while not done:
            action, _ = policy.predict(obs[None], deterministic=deterministic)
            obs, reward, terminated, truncated, _ = env.step(int(action[0]))
            total, done = total + float(reward), terminated or truncated
        scores.append(total)
    env.close()
    return scores


def main() -> None:
    args = parse()
    torch.set_num_threads(args.threads)
    sizes = BCSizes(
        max_train=args.bc_max_train, max_test=args.bc_max_test, epochs=args.bc_epochs, balanced=args.bc_balanced
    )
    demos, seconds = expert_demos(args.game, args.kind, args.games, 1_000 * args.seed)
    scores = [float(s) for s in demos.metadata["scores"]]
    head = {"game": args.game, "kind": args.kind, "expert": demos.metadata["policy"], "date": time.strftime("%F"),
            "bc_balanced_loss": sizes.balanced}  # fmt: skip
    if args.curve:
        for n in args.curve:
            for seed in args.seeds:
                start = time.perf_counter()
                policy, stats = fit_bc(demos, range(n), sizes, seed)
                sampled = bc_returns(policy, args.game, args.eval_games, deterministic=False, seed=seed)
                greedy = bc_returns(policy, args.game, args.eval_games, deterministic=True, seed=seed)
                row = {**head, "n_demo_games": n, "seed": seed, "eval_games": args.eval_games,
                       "bc_sampled_return": float(np.mean(sampled)), "bc_greedy_return": float(np.mean(greedy)),
                       "sampled": sampled, "greedy": greedy, "expert_return": float(np.mean(scores[:n])),
                       **stats, "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
                emit(row, args.out)
        return
    random = random_scores(args.game, args.random_games)
    row = {**head, "games": args.games, "seed": args.seed, "expert_return": float(np.mean(scores)),
           "expert_std": float(np.std(scores)), "scores": scores, "expert_steps": int(demos.n_transitions),
           "random_return": float(np.mean(random)) if random else None, "random_games": args.random_games,
           "cpu_seconds_per_game": None if seconds is None else round(seconds, 2)}  # fmt: skip
    if args.bc:
        train, test = range(args.bc_train_games), range(args.bc_train_games, args.bc_train_games + args.bc_test_games)
        policy, stats = fit_bc(demos, train, sizes, args.seed)
        accuracy, balanced, n_test, test_acts = action_accuracy(policy, demos, test, sizes.max_test, args.seed)
        common = int(np.bincount(demos.acts[: int(demos.episode_lengths[: len(train)].sum())]).argmax())
        row.update(
            bc_action_accuracy=accuracy, bc_balanced_accuracy=balanced,
            majority_accuracy=float(np.mean(test_acts == common)),
            bc_train_games=args.bc_train_games, bc_test_games=args.bc_test_games, bc_test_transitions=n_test,
            bc_epochs_max=sizes.epochs, **stats,
        )  # fmt: skip
    emit(row, args.out)


if __name__ == "__main__":
    run_main(main)
