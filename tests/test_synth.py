"""``genplay synth``: scored synthetic rollouts of a trained GAIL generator, their provenance,
filtering by score, round trips through the demos format and Minari, and a warm start."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from genplay.cli import main
from genplay.gail.algos.config import replace
from genplay.gail.algos.presets import preset
from genplay.gail.data.demos import Demos, load_demos, save_demos
from genplay.gail.data.spaces import describe_space
from genplay.gail.data.store import StackedFrames
from genplay.gail.data.synth import (
    SynthConfig,
    episode_scores,
    filter_by_score,
    load_generator,
    score_transitions,
    synthesize,
)
from genplay.gail.evaluation.scores import auc
from genplay.gail.runs.pipeline import train_gail

ENV = "CartPole-v1"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, cartpole_demos) -> Path:
    """A GAIL run on CartPole (BC warm start on 5 heuristic demos, then 512 generator steps) and its
    realism scorer (``realism.pt``, a short training on the same demos)."""
    from genplay.gail.data.synth import fit_scorer
    from genplay.gail.evaluation.realism import SCORER_FILE, RealismConfig, save_scorer

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("synth") / "run"
    config = replace(
        preset(ENV), n_envs=2, ppo_n_steps=128, ppo_batch_size=64, ppo_n_epochs=2, disc_batch_size=64,
        checkpoint_every=0, bc_epochs=30, device="cpu",
    )  # fmt: skip
    train_gail(ENV, cartpole_demos, 512, config=config, out_dir=out)
    scorer = fit_scorer(load_generator(out), cartpole_demos, config=RealismConfig(steps=300), generator_episodes=4,
                        random_episodes=8)  # fmt: skip
    save_scorer(out / SCORER_FILE, scorer)
    return out


@pytest.fixture(scope="module")
def synthetic(run_dir) -> Demos:
    return synthesize(load_generator(run_dir), SynthConfig(n_episodes=6, seed=3, temperature=1.5, perturb_steps=4))


@pytest.mark.slow
def test_round_trip_own_format_keeps_scores_and_provenance(run_dir, synthetic, tmp_path):
    save_demos(tmp_path / "s.npz", synthetic)
    back = load_demos(tmp_path / "s.npz", env_id=ENV)
    for name in ("acts", "rewards", "episode_lengths", "terminated", "scores"):
        np.testing.assert_array_equal(getattr(back, name), getattr(synthetic, name))
    np.testing.assert_array_equal(back.obs, synthetic.obs)
    synth = back.metadata["synth"]
    assert synth["generator"]["policy_sha256"] == hashlib.sha256((run_dir / "policy.zip").read_bytes()).hexdigest()
    assert (
        synth["generator"]["checkpoint_sha256"] == hashlib.sha256((run_dir / "checkpoint.pt").read_bytes()).hexdigest()
    )
    assert synth["settings"] == dataclasses.asdict(SynthConfig(n_episodes=6, seed=3, temperature=1.5, perturb_steps=4))
    assert synth["episode_seeds"] == [3, 4, 5, 6, 7, 8]
    # the stored scores are the realism scorer's, per transition and per episode (the mean)
    assert synth["generator"]["scorer_sha256"] == hashlib.sha256((run_dir / "realism.pt").read_bytes()).hexdigest()
    fresh = load_generator(run_dir).scorer.transition_scores(back)
    np.testing.assert_allclose(back.scores, fresh, atol=1e-6)
    assert ((fresh > 0) & (fresh < 1)).all() and fresh.std() > 0
    np.testing.assert_allclose(synth["episode_scores"], episode_scores(back, fresh), atol=1e-5)


@pytest.mark.slow
def test_seeds_reproduce_and_diversity_controls_change_rollouts(run_dir):
    gen = load_generator(run_dir)
    cfg = SynthConfig(n_episodes=3, seed=11, batch=2)
    a, b = synthesize(gen, cfg), synthesize(gen, cfg)
    np.testing.assert_array_equal(a.acts, b.acts)  # same seed, same settings: the same data
    np.testing.assert_array_equal(a.obs, b.obs)

    def starts(d: Demos) -> np.ndarray:
        return d.obs[np.cumsum(d.episode_lengths + 1) - d.episode_lengths - 1]

    assert not np.isin(starts(synthesize(gen, dataclasses.replace(cfg, seed=12))), starts(a)).all()
    perturbed = starts(synthesize(gen, dataclasses.replace(cfg, perturb_steps=6)))
    moved = ~(perturbed == starts(a)).all(axis=1)  # same reset seeds, other start states
    assert moved.sum() >= 2, moved
    # a cold temperature samples the mode; a hot one departs from it
    det = synthesize(gen, dataclasses.replace(cfg, deterministic=True))
    cold = synthesize(gen, dataclasses.replace(cfg, temperature=1e-4))
    np.testing.assert_array_equal(cold.acts, det.acts)
    hot = synthesize(gen, dataclasses.replace(cfg, temperature=5.0))
    assert hot.episode_lengths.mean() < det.episode_lengths.mean()


def test_filter_ranks_by_score_and_records_it(synthetic):
    ep = np.asarray(synthetic.metadata["synth"]["episode_scores"])
    best = filter_by_score(synthetic, top=2)
    assert best.n_episodes == 2
    np.testing.assert_allclose(episode_scores(best), np.sort(ep)[::-1][:2], atol=1e-6)
    seeds = synthetic.metadata["synth"]["episode_seeds"]
    assert best.metadata["synth"]["episode_seeds"] == [seeds[i] for i in np.argsort(-ep, kind="stable")[:2]]
    cut = float(np.median(ep))
    kept = filter_by_score(synthetic, min_score=cut)
    assert (episode_scores(kept) >= cut).all() and kept.n_episodes == int((ep >= cut).sum())
    assert kept.metadata["synth"]["filters"][-1] == {"min_score": cut, "top": None, "kept": kept.n_episodes, "of": 6}
    # every per-row field follows its episode
    i = int(np.argmax(ep))
    start = int(np.sum(synthetic.episode_lengths[:i]))
    np.testing.assert_array_equal(
        best.acts[: best.episode_lengths[0]], synthetic.acts[start : start + best.episode_lengths[0]]
    )


def test_auc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1, 1, 40).round(1), rng.normal(0, 1, 30).round(1)
    pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert auc(pos, neg) == pytest.approx(pairs)
    assert auc(np.ones(3), np.zeros(3)) == 1.0


minari = pytest.importorskip("minari")


def test_minari_round_trip_loads_with_minari(synthetic, tmp_path):
    from genplay.gail.data.minari_io import export_minari, import_minari

    path = export_minari(synthetic, "genplay/cartpole-synth-v0", root=tmp_path)
    ds = minari.MinariDataset(path / "data")  # minari itself reads it
    assert ds.total_episodes == synthetic.n_episodes and ds.total_steps == synthetic.n_transitions
    ep = next(ds.iterate_episodes())
    n = int(synthetic.episode_lengths[0])
    np.testing.assert_array_equal(ep.observations, synthetic.obs[: n + 1])
    assert bool(ep.terminations[-1]) == bool(synthetic.terminated[0]) != bool(ep.truncations[-1])
    back = import_minari(path, env_id=ENV)
    for name in ("acts", "rewards", "episode_lengths", "terminated", "scores"):
        np.testing.assert_array_equal(getattr(back, name), getattr(synthetic, name))
    np.testing.assert_array_equal(back.obs, synthetic.obs)
    assert back.metadata["synth"] == json.loads(json.dumps(synthetic.metadata["synth"]))


def test_dataset_written_by_minari_loads_as_demos(tmp_path, monkeypatch):
    import gymnasium as gym

    from genplay.gail.data.minari_io import import_minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    env = minari.DataCollector(gym.make(ENV))
    env.action_space.seed(0)
    for seed in range(3):
        env.reset(seed=seed)
        done = False
        while not done:
            _, _, term, trunc, _ = env.step(env.action_space.sample())
            done = term or trunc
    ds = env.create_dataset(dataset_id="cartpole/random-v0", algorithm_name="random", author="test")
    demos = import_minari("cartpole/random-v0", env_id=ENV)
    assert demos.n_episodes == 3 and demos.n_transitions == ds.total_steps and demos.terminated.all()
    ep = next(ds.iterate_episodes())
    np.testing.assert_array_equal(demos.obs[: len(ep.observations)], ep.observations)
    np.testing.assert_array_equal(demos.acts[: len(ep.actions)], ep.actions)


@pytest.mark.parametrize("shape", [(32, 32), (4, 12, 12)], ids=["image", "frame-stack"])
def test_minari_stores_pixels_losslessly(tmp_path, shape):
    """Noise images (JPEG would change them) come back bit for bit; frame stacks come back as StackedFrames."""
    from gymnasium import spaces

    from genplay.gail.data.minari_io import export_minari, import_minari

    rng = np.random.default_rng(0)
    lengths = np.array([3, 2])
    pixels = rng.integers(0, 256, size=(int(lengths.sum() + 2), *shape), dtype=np.uint8)
    space = spaces.Box(0, 255, shape, np.uint8)
    stacked = len(shape) == 3
    demos = Demos(
        obs=StackedFrames.from_stacks(pixels, lengths + 1) if stacked else pixels, acts=np.array([0, 1, 1, 0, 1]),
        rewards=np.ones(5, np.float32), episode_lengths=lengths, terminated=np.array([True, False]), env_id=ENV,
        observation_space=describe_space(space), action_space=describe_space(spaces.Discrete(2)),
    )  # fmt: skip
    back = import_minari(export_minari(demos, "genplay/pixels-v0", root=tmp_path))
    assert isinstance(back.obs, StackedFrames) == stacked
    np.testing.assert_array_equal(back.obs[np.arange(len(pixels))], pixels)


@pytest.mark.slow
def test_warm_start_on_synthetic_data_beats_scratch_at_equal_steps(run_dir):
    """Steps to an evaluation >= 475: 0 for the BC warm start, more for the same fresh PPO from scratch
    (same seed, so the same initial actor: only BC on the synthetic data makes the difference)."""
    from genplay.gail.algos.warmstart import learn_to_threshold, make_ppo, warm_start

    data = synthesize(load_generator(run_dir), SynthConfig(n_episodes=8, seed=0))
    assert data.episode_returns().mean() > 200  # the generator balances
    curves = {}
    for warm in (True, False):
        model = make_ppo(ENV, seed=0)
        if warm:
            warm_start(model, data)
        curves[warm] = learn_to_threshold(model, ENV, threshold=475, budget=512, eval_every=256, eval_episodes=4)
    assert curves[True].steps_to_threshold == 0, curves[True].points
    assert curves[False].points[0][1] < 475 and curves[False].steps_to_threshold != 0, curves[False].points


def test_cli_synth_writes_demos_and_minari(run_dir, tmp_path, capsys):
    out = tmp_path / "synth.npz"
    assert main(["synth", "--run", str(run_dir), "--n-episodes", "3", "--out", str(out), "--top", "2"]) == 0
    demos = load_demos(out)
    assert demos.n_episodes == 2 and demos.metadata["synth"]["filters"][0]["kept"] == 2
    assert main(["synth", "export", str(out), "--minari-id", "genplay/cli-v0", "--minari-root", str(tmp_path)]) == 0
    assert main(["synth", "import", str(tmp_path / "genplay" / "cli-v0"), "--out", str(tmp_path / "back.npz")]) == 0
    np.testing.assert_array_equal(load_demos(tmp_path / "back.npz").acts, demos.acts)


@pytest.fixture()
def heuristic_expert(monkeypatch, heuristic_policy):
    """The report's expert episodes from the CartPole heuristic (no PPO expert to train in a test)."""
    import genplay.gail.runs.pipeline as pipeline

    monkeypatch.setattr(pipeline, "default_expert", lambda env_id: (heuristic_policy, "heuristic"))
    return heuristic_policy


def test_cli_synth_report_writes_plots_and_json(run_dir, synthetic, heuristic_expert, tmp_path, capsys):
    """scores.png, returns.png and report.json, whose held-out AUCs and returns match a recomputation
    with the realism scorer; GAIL's discriminator's AUCs ride along as the reference."""
    import matplotlib.image

    from genplay.gail.data.collect import collect_demos
    from genplay.gail.evaluation.realism import noisy_policy

    save_demos(tmp_path / "synth.npz", synthetic)
    out = tmp_path / "report"
    argv = ["synth", "report", "--run", str(run_dir), "--data", str(tmp_path / "synth.npz"),
            "--episodes", "4", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out.strip().splitlines()[-1])
    report = json.loads((out / "report.json").read_text())
    assert printed == report and report["env"] == ENV
    assert sorted(report["plots"]) == sorted(str(out / n) for n in ("scores.png", "returns.png"))
    for name, shape in (("scores.png", (400, 1000)), ("returns.png", (400, 600))):
        img = matplotlib.image.imread(out / name)
        assert img.shape[:2] == shape and img[..., :3].std() > 0.05, (name, img.shape)  # drawn, not blank
    # the same held-out reference episodes (the report's seeds), scored by the same scorer
    gen = load_generator(run_dir)
    sets = {
        "expert": collect_demos(ENV, heuristic_expert, 4, seed=60_000),
        "random": collect_demos(ENV, "random", 4, seed=70_000),
        "noisy_expert": collect_demos(ENV, noisy_policy(heuristic_expert, gen.model.action_space, 0.3, 60_000), 4,
                                      seed=75_000),
        "generator": synthetic,
    }  # fmt: skip
    ep = {k: gen.scorer.episode_scores(d) for k, d in sets.items()}
    for other in ("random", "generator", "noisy_expert"):
        assert report[f"auc_expert_vs_{other}"] == pytest.approx(auc(ep["expert"], ep[other]), abs=1e-4)
    assert report["check"]["auc_expert_vs_random"] == report["auc_expert_vs_random"]
    gail = {k: episode_scores(d, score_transitions(gen.disc, d)) for k, d in sets.items()}
    assert report["gail_discriminator"]["auc_expert_vs_random"] == pytest.approx(
        auc(gail["expert"], gail["random"]), abs=1e-4
    )
    for k, d in sets.items():
        assert report[f"return_mean_{k}"] == pytest.approx(float(d.episode_returns().mean()), abs=1e-3)
        assert report[f"score_mean_{k}"] == pytest.approx(float(ep[k].mean()), abs=1e-4)
    assert report["return_mean_expert"] == 500 and report["return_mean_random"] < 100
    # this scorer ranks: no warning
    assert report["auc_expert_vs_random"] >= 0.6 and report["warning"] is None
    assert "WARNING" not in captured.err


def test_cli_synth_report_warns_loudly_when_the_score_does_not_rank(
    run_dir, synthetic, heuristic_expert, tmp_path, capsys, monkeypatch
):
    """An inverted scorer (1 - its score): a ``WARNING:`` line on stderr and a ``warning`` field."""
    from genplay.gail.evaluation.realism import RealismScorer

    real = RealismScorer.transition_scores
    monkeypatch.setattr(RealismScorer, "transition_scores", lambda self, d: 1.0 - real(self, d))
    save_demos(tmp_path / "synth.npz", synthetic)
    argv = ["synth", "report", "--run", str(run_dir), "--data", str(tmp_path / "synth.npz"),
            "--episodes", "4", "--out", str(tmp_path / "report")]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["auc_expert_vs_random"] < 0.6 and "inverted" in report["warning"]
    warnings = [line for line in captured.err.splitlines() if line.startswith("WARNING:")]
    assert len(warnings) == 1 and "does not rank" in warnings[0], captured.err


@pytest.mark.parametrize("case", ["other-env-data", "no-scorer"])
def test_cli_synth_report_bad_input_is_one_error_line(case, run_dir, heuristic_expert, tmp_path, capsys):
    """Data for another env, or a run without realism.pt: exit 2, one ``error:`` line, no report."""
    import shutil

    from genplay.gail.data.collect import collect_demos

    run, data = run_dir, tmp_path / "data.npz"
    if case == "other-env-data":
        save_demos(data, collect_demos("Pendulum-v1", "random", 1, seed=0))
    else:
        save_demos(data, collect_demos(ENV, "random", 1, seed=0))
        run = tmp_path / "no_scorer"
        run.mkdir()
        for name in ("policy.zip", "checkpoint.pt"):
            shutil.copy(run_dir / name, run / name)
    out = tmp_path / "report"
    assert main(["synth", "report", "--run", str(run), "--data", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    flag = "--data" if case == "other-env-data" else "--run"
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert flag in err[0] or str(data if flag == "--data" else run) in err[0], err
    assert not (out / "report.json").exists()


@pytest.mark.slow
def test_warm_start_clones_continuous_actions_under_gsde():
    """Pendulum (gSDE PPO recipe): the mean-action regression lifts a fresh PPO from random-level
    returns to near the scripted expert's; the same fresh PPO without it stays random-level."""
    from genplay.envs.scripted import SCRIPTED_EXPERTS
    from genplay.gail.algos.warmstart import make_ppo, warm_start
    from genplay.gail.data.collect import collect_demos
    from genplay.gail.evaluation.evaluate import episode_returns

    env = "Pendulum-v1"
    demos = collect_demos(env, SCRIPTED_EXPERTS[env], 150, seed=0)  # 30k transitions: 60 clone to about -800
    returns, stats = {}, {}
    for warm in (True, False):
        model = make_ppo(env, seed=0)
        assert model.use_sde
        if warm:
            stats = warm_start(model, demos, seed=0, value=False)  # the clone is measured, not the critic
        returns[warm] = float(episode_returns(env, model, 4, seed=5).mean())
    assert returns[True] > -300 and returns[False] < -800, (returns, stats)
    assert stats["bc_heldout_mse"] < 0.1, stats


@pytest.mark.slow
def test_warm_start_on_a_board_game_is_masked_and_beats_a_fresh_policy():
    """Board games: ``make_ppo`` builds MaskablePPO, BC gets the demos' legal-action masks, and
    the cloned policy beats random far more often than the same fresh policy."""
    from unittest import mock

    from sb3_contrib import MaskablePPO

    from genplay.gail.algos import bc, warmstart
    from genplay.gail.evaluation.evaluate import episode_returns
    from genplay.gail.suites.board_symmetry import augment_symmetries
    from genplay.gail.suites.boardgames import board_factory, collect_bot_demos

    torch.set_num_threads(1)
    env = board_factory("tic_tac_toe", "random", None)
    demos = augment_symmetries(collect_bot_demos("tic_tac_toe", "solver", 40, opponent="random", seed=0), "tic_tac_toe")
    returns = {}
    for warm in (True, False):
        model = warmstart.make_ppo(env, seed=0)
        assert isinstance(model, MaskablePPO)
        if warm:
            with mock.patch.object(bc, "bc_pretrain", wraps=bc.bc_pretrain) as spy:
                warmstart.warm_start(model, demos, seed=0)
            assert spy.call_args.kwargs["action_masks"] is demos.action_masks
        returns[warm] = float(episode_returns(env, model, 100, seed=7).mean())
    assert returns[True] > 0.7 and returns[True] > returns[False] + 0.3, returns


def test_cli_synth_scorer_writes_realism_pt_and_refuses_to_overwrite(run_dir, cartpole_demos, tmp_path, capsys):
    """``genplay synth scorer`` trains RUN/realism.pt from a demos file; a second run needs --force;
    ``synth --top`` then ranks by it."""
    import shutil

    run = tmp_path / "run"
    run.mkdir()
    for name in ("policy.zip", "checkpoint.pt"):
        shutil.copy(run_dir / name, run / name)
    save_demos(tmp_path / "demos.npz", cartpole_demos)
    argv = ["synth", "scorer", "--run", str(run), "--demos", str(tmp_path / "demos.npz"), "--steps", "20",
            "--generator-episodes", "2", "--random-episodes", "4"]  # fmt: skip
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["scorer"] == str(run / "realism.pt") and printed["episodes"]["random"] == 4
    assert load_generator(run).scorer is not None
    assert main(argv) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0
    capsys.readouterr()
    assert main(["synth", "--run", str(run), "--n-episodes", "3", "--top", "1", "--out", str(tmp_path / "s.npz")]) == 0
    assert load_demos(tmp_path / "s.npz").n_episodes == 1


def test_filter_refuses_to_rank_nan_scores(synthetic):
    import dataclasses

    from genplay.errors import GenplayError

    scores = synthetic.scores.copy()
    scores[0] = np.nan
    with pytest.raises(GenplayError, match="NaN or inf; refusing to rank"):
        filter_by_score(dataclasses.replace(synthetic, scores=scores), top=2)
