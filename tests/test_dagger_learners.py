"""DAgger's learner options for board games: the BoardCNN policy (trains, saves, loads in SB3's MaskablePPO alone)
and soft alpha-beta targets (legal moves only, summing to 1, the bot's own move on top, kept by the checkpoint)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sb3_contrib.common.maskable.utils import get_action_masks

from genplay.envs import EnvFactory
from genplay.errors import GenplayError
from genplay.gail.algos.dagger import DAgger
from genplay.gail.algos.dagger_config import DAggerConfig, dagger_preset
from genplay.gail.algos.dagger_expert import make_oracle, soft_targets
from genplay.gail.runs.dagger_run import train_dagger

OTHELLO = "genplay/Othello-v0"


def tiny(**changes) -> DAggerConfig:
    """Othello's preset shrunk to seconds: 2 rounds of 32 steps, 2 envs, one BC epoch."""
    base = dataclasses.replace(dagger_preset(OTHELLO), rounds=2, steps_per_round=32, n_envs=2, bc_epochs=1,
                               bc_patience=1, bc_epoch_rows=1, expert="alphabeta:1", net_arch=())  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_cnn_policy_trains_saves_and_loads_in_sb3_alone(tmp_path):
    from sb3_contrib import MaskablePPO

    cfg = tiny(features_extractor="board_cnn", cnn_channels=4, cnn_layers=2)
    trainer = train_dagger(EnvFactory(OTHELLO, {"opponent": "random"}), None, 64, config=cfg, out_dir=tmp_path / "r")
    assert type(trainer.algo.policy.features_extractor).__name__ == "BoardCNN"
    assert trainer.history[-1]["bc_epochs"] >= 1 and 0.0 <= trainer.history[-1]["fit_agreement"] <= 1.0
    model = MaskablePPO.load(tmp_path / "r" / "policy.zip", device="cpu")  # SB3's own loader
    assert type(model.policy.features_extractor).__name__ == "BoardCNN"
    obs, masks = trainer.data.obs[:40], trainer.data.masks[:40]
    sb3 = model.predict(obs, action_masks=masks, deterministic=True)[0]
    np.testing.assert_array_equal(sb3, trainer.predict(obs, action_masks=masks)[0])
    assert masks[np.arange(len(sb3)), sb3].all()


def test_soft_targets_cover_legal_moves_only_and_sum_to_one():
    row = soft_targets({3: 0.5, 7: 0.2, 9: 0.5}, 12, temperature=0.1)
    assert row.shape == (12,) and row.sum() == pytest.approx(1.0)
    assert set(np.flatnonzero(row)) == {3, 7, 9} and row[3] == pytest.approx(row[9]) and row[3] > row[7]
    factory = EnvFactory(OTHELLO, {"opponent": "random"})
    venv = factory.make_vec(2, seed=0)
    oracle = make_oracle("alphabeta:2", factory, venv, seed=0)
    obs, rng = venv.reset(), np.random.default_rng(0)
    for _ in range(6):
        masks = get_action_masks(venv)
        actions, targets, gaps = oracle.soft_labels(venv, 0.05)
        np.testing.assert_array_equal(actions, oracle(obs, masks, venv))  # the argmax is the bot's move
        np.testing.assert_allclose(targets.sum(1), 1.0, rtol=1e-5)
        assert (targets[~masks] == 0).all() and (targets[masks] > 0).all()
        assert (gaps[~masks] == 0).all() and (gaps[masks] >= 0).all() and (gaps[np.arange(2), actions] == 0).all()
        obs = venv.step(np.array([rng.choice(np.flatnonzero(m)) for m in masks]))[0]


def test_soft_targets_are_fitted_and_kept_by_the_checkpoint(tmp_path):
    factory = EnvFactory(OTHELLO, {"opponent": "random"})
    trainer = DAgger(venv=factory.make_vec(2, seed=0), demos=None, config=tiny(soft_temperature=0.05), factory=factory)
    trainer.learn(64)
    assert trainer.targets.shape == (len(trainer.data), 65)
    assert (trainer.targets.max(1) < 1).any()  # some rows spread over several moves
    trainer.save(tmp_path / "run")
    loaded = DAgger.load(tmp_path / "run", venv=None, demos=None, config=tiny(soft_temperature=0.05))
    np.testing.assert_array_equal(loaded.targets, trainer.targets)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"features_extractor": "resnet"}, r"^DAggerConfig.features_extractor: expected one of mlp, board_cnn"),
        ({"cnn_channels": 0}, r"^DAggerConfig.cnn_channels: "),
        ({"soft_temperature": -1.0}, r"^DAggerConfig.soft_temperature: "),
    ],
)
def test_bad_learner_values_are_one_line(changes, message):
    with pytest.raises(GenplayError, match=message) as exc:
        tiny(**changes)
    assert "\n" not in str(exc.value)


def test_soft_targets_need_an_alphabeta_expert_and_cnn_a_board():
    with pytest.raises(GenplayError, match=r"^DAggerConfig.soft_temperature: needs an alphabeta:D expert.*mcts:5"):
        DAgger(venv=EnvFactory(OTHELLO).make_vec(1), demos=None, config=tiny(soft_temperature=0.1, expert="mcts:5"),
               factory=EnvFactory(OTHELLO))  # fmt: skip
    with pytest.raises(GenplayError, match=r"^DAggerConfig.features_extractor: only for board games"):
        cfg = DAggerConfig(features_extractor="board_cnn", expert="random", n_envs=1)
        DAgger(venv=EnvFactory("CartPole-v1").make_vec(1), demos=None, config=cfg, factory=EnvFactory("CartPole-v1"))


def test_the_fit_matches_the_soft_targets_not_the_argmax():
    """Every row one position with targets 0.7 / 0.3 on two legal moves, the label on the 0.3 one: the fitted
    policy gives about 0.7 / 0.3; fitted on the labels (soft targets ignored) it puts nearly all on the label."""
    import torch

    factory = EnvFactory(OTHELLO, {"opponent": "random"})
    cfg = tiny(
        soft_temperature=0.05, bc_epochs=40, bc_patience=40, bc_epoch_rows=64, bc_lr=1e-2, symmetric_policy=False
    )
    trainer = DAgger(venv=factory.make_vec(2, seed=0), demos=None, config=cfg, factory=factory).learn(64)
    data, n = trainer.data, len(trainer.data)
    data.obs[:], data.masks[:] = data.obs[0], data.masks[0]
    first, second = np.flatnonzero(data.masks[0])[:2]
    data.acts[:] = second
    trainer.targets = np.zeros_like(trainer.targets)
    trainer.targets[:, [first, second]] = (0.7, 0.3)
    trainer.fit()
    policy = trainer.algo.policy
    with torch.no_grad():
        dist = policy.get_distribution(policy.obs_to_tensor(data.obs[:1])[0], action_masks=data.masks[:1])
        probs = dist.distribution.probs.numpy()[0]
    assert n > 1 and abs(probs[first] - 0.7) < 0.05 and abs(probs[second] - 0.3) < 0.05, probs[[first, second]]


def test_othello_move_planes_are_the_legal_moves_of_both_sides():
    """On 200 positions of random games the extractor's planes equal the env's legal moves for the side to move
    and ``othello_eval``'s bitboard moves for the other side; switched off (planes zeroed) this fails."""
    import torch

    from genplay.envs.othello_eval import boards
    from genplay.envs.othello_eval import legal_moves as bit_moves
    from genplay.gail.networks.othello_features import OthelloMoveFeatures

    env = EnvFactory(OTHELLO, {"opponent": "random"}).make()
    extractor = OthelloMoveFeatures(env.observation_space)
    rng, seen, game = np.random.default_rng(0), 0, 0
    while seen < 200:
        obs, info = env.reset(seed=game)
        done, game = False, game + 1
        while not done:
            features = extractor(torch.as_tensor(obs[None])).reshape(5, 64).numpy()
            own, opp = boards(env.unwrapped.state, env.unwrapped.agent)
            np.testing.assert_array_equal(features[:3], obs.reshape(3, 64))
            np.testing.assert_array_equal(features[3].astype(bool), info["action_mask"][:64])
            np.testing.assert_array_equal(features[4], [(bit_moves(opp, own) >> i) & 1 for i in range(64)])
            obs, _, term, trunc, info = env.step(rng.choice(np.flatnonzero(info["action_mask"])))
            done, seen = term or trunc, seen + 1
    assert seen >= 200


def test_othello_lookahead_planes_are_each_moves_flips_and_the_corners_it_opens():
    """On 200 positions of random games, for every legal move: its flip plane is the discs OpenSpiel turns over
    (/ 8) and its corner plane the corners the opponent may play right after it (0 on illegal moves); the first
    five planes are :class:`OthelloMoveFeatures`'."""
    import torch

    from genplay.envs.othello_eval import boards
    from genplay.gail.networks.othello_features import OthelloLookaheadFeatures, OthelloMoveFeatures

    env = EnvFactory(OTHELLO, {"opponent": "random"}).make()
    lookahead, moves = OthelloLookaheadFeatures(env.observation_space), OthelloMoveFeatures(env.observation_space)
    rng, seen, game, opened_any = np.random.default_rng(0), 0, 0, 0
    while seen < 200:
        obs, info = env.reset(seed=game)
        done, game = False, game + 1
        while not done:
            x = torch.as_tensor(obs[None])
            features = lookahead(x).reshape(7, 64).numpy()
            np.testing.assert_array_equal(features[:5], moves(x).reshape(5, 64).numpy())
            state, me = env.unwrapped.state, env.unwrapped.agent
            n_own = bin(boards(state, me)[0]).count("1")
            legal = np.flatnonzero(info["action_mask"][:64])
            for move in legal:
                after = state.clone()
                after.apply_action(int(move))
                assert features[5, move] * 8 == bin(boards(after, me)[0]).count("1") - n_own - 1
                corners = [] if after.is_terminal() else [c for c in (0, 7, 56, 63) if c in after.legal_actions()]
                assert features[6, move] == (len(corners) if after.current_player() != me else 0)
                opened_any += int(features[6, move] > 0)
            assert not features[5:, np.setdiff1d(np.arange(64), legal)].any()
            obs, _, term, trunc, info = env.step(rng.choice(np.flatnonzero(info["action_mask"])))
            done, seen = term or trunc, seen + 1
    assert opened_any > 20  # the positions include moves that open corners


def test_a_symmetric_policy_maps_equivariant_planes_as_it_would_the_boards():
    """The symmetric policy computes Othello's feature planes once and maps them; computing them on every image
    of the board gives the same features (the shortcut is exact)."""
    import torch

    from genplay.gail.networks.othello_features import OthelloLookaheadFeatures, OthelloMoveFeatures
    from genplay.gail.suites.boardgame_policy import symmetry_maps

    env = EnvFactory(OTHELLO, {"opponent": "random"}).make()
    rng, rows = np.random.default_rng(1), []
    obs, info = env.reset(seed=0)
    for _ in range(40):
        rows.append(obs)
        obs, _, term, trunc, info = env.step(rng.choice(np.flatnonzero(info["action_mask"])))
        if term or trunc:
            obs, info = env.reset()
    x = torch.as_tensor(np.array(rows)).float()
    gather = torch.as_tensor(symmetry_maps("othello", (8, 8))[0])
    images = x.reshape(len(x), 3, 64)[:, :, gather].permute(2, 0, 1, 3).reshape(-1, 3, 8, 8)
    for cls in (OthelloMoveFeatures, OthelloLookaheadFeatures):
        extractor = cls(env.observation_space)
        assert extractor.equivariant_planes
        mapped = extractor(x).reshape(len(x), -1, 64)[:, :, gather].permute(2, 0, 1, 3).reshape(len(images), -1)
        assert torch.equal(extractor(images), mapped)


@pytest.mark.parametrize("extractor", ["othello_moves", "othello_lookahead"])
def test_othello_extractor_policy_loads_in_sb3_alone_and_is_othello_only(tmp_path, extractor):

    from sb3_contrib import MaskablePPO

    cfg = tiny(features_extractor=extractor, net_arch=(16,))
    trainer = train_dagger(EnvFactory(OTHELLO, {"opponent": "random"}), None, 64, config=cfg, out_dir=tmp_path / "r")
    model = MaskablePPO.load(tmp_path / "r" / "policy.zip", device="cpu")
    assert type(model.policy.features_extractor) is type(trainer.algo.policy.features_extractor)
    assert type(model.policy.features_extractor).__name__.startswith("Othello")
    obs, masks = trainer.data.obs[:40], trainer.data.masks[:40]
    sb3 = model.predict(obs, action_masks=masks, deterministic=True)[0]
    np.testing.assert_array_equal(sb3, trainer.predict(obs, action_masks=masks)[0])
    ttt = EnvFactory("genplay/TicTacToe-v0")
    with pytest.raises(GenplayError, match=rf"^DAggerConfig.features_extractor: {extractor} is for Othello"):
        DAgger(venv=ttt.make_vec(1), demos=None, factory=ttt,
               config=DAggerConfig(features_extractor=extractor, expert="random", n_envs=1))  # fmt: skip


def test_the_regret_term_moves_mass_off_the_costly_move():
    """Soft targets 0.5 / 0.5 on two moves of one position, the second 0.5 below the first in value: with the
    expected regret weighted in, the fit prefers the first (about 0.5 / 0.5 without it)."""
    import torch

    factory = EnvFactory(OTHELLO, {"opponent": "random"})
    cfg = tiny(soft_temperature=0.05, regret_weight=2.0, bc_epochs=40, bc_patience=40, bc_epoch_rows=64, bc_lr=1e-2,
               symmetric_policy=False)  # fmt: skip
    trainer = DAgger(venv=factory.make_vec(2, seed=0), demos=None, config=cfg, factory=factory).learn(64)
    data = trainer.data
    data.obs[:], data.masks[:] = data.obs[0], data.masks[0]
    first, second = np.flatnonzero(data.masks[0])[:2]
    trainer.targets = np.zeros_like(trainer.targets)
    trainer.targets[:, [first, second]] = 0.5
    trainer.gaps = np.zeros_like(trainer.targets)
    trainer.gaps[:, second] = 0.5
    trainer.fit()
    policy = trainer.algo.policy
    with torch.no_grad():
        dist = policy.get_distribution(policy.obs_to_tensor(data.obs[:1])[0], action_masks=data.masks[:1])
        probs = dist.distribution.probs.numpy()[0]
    assert probs[first] > 0.6 and probs[first] > 2 * probs[second], probs[[first, second]]


def test_fixed_holdout_keeps_each_segment_on_its_side_across_rounds():
    """``fixed_holdout``: a segment's held-out draw is made once and kept (the prefix after round 1 is unchanged
    at the end), and BC's minibatches never touch a held-out row."""
    import torch

    from genplay.gail.algos import dagger_fit

    factory = EnvFactory(OTHELLO, {"opponent": "random"})
    trainer = DAgger(venv=factory.make_vec(2, seed=0), demos=None, config=tiny(fixed_holdout=True, rounds=3),
                     factory=factory)  # fmt: skip
    trainer.learn(64)
    first = trainer.held.copy()
    trainer.learn(128)
    assert len(trainer.held) == len(trainer.data.lengths) > len(first) and trainer.held.any()
    np.testing.assert_array_equal(trainer.held[: len(first)], first)
    seen: list[np.ndarray] = []
    weight = torch.zeros(1, requires_grad=True)

    def loss(idx):
        seen.append(idx)
        return (weight**2).sum() + 1.0

    dagger_fit.fit_split(trainer.algo.policy, loss, lambda idx: 1.0, trainer.data.lengths, trainer.held,
                         max_epochs=2, patience=5, batch_size=8, lr=1e-3, rng=np.random.default_rng(0))  # fmt: skip
    rows_held = np.repeat(trainer.held, trainer.data.lengths)
    assert seen and not rows_held[np.concatenate(seen)].any()


@pytest.mark.parametrize("extractor", ["mlp", "othello_moves", "othello_lookahead"])
def test_puct_scores_a_symmetric_policy_in_numpy_as_torch_does(tmp_path, extractor):
    """PUCT's numpy path (Othello's preset: the lookahead planes and the 4-image average) gives the policy's own
    log-probabilities; a position scored alone costs a fraction of a torch call (10x over plain MCTS before)."""
    import torch
    from scipy.special import log_softmax

    from genplay.gail.suites.puct import load_net

    cfg = tiny(features_extractor=extractor, net_arch=(16,))
    assert cfg.symmetric_policy
    trainer = train_dagger(EnvFactory(OTHELLO, {"opponent": "random"}), None, 64, config=cfg, out_dir=tmp_path / "r")
    net = load_net(tmp_path / "r", "othello")
    assert net.actor is not None and net.symmetries is not None and not net.plain  # numpy, not TwinMLP
    obs = trainer.data.obs[:40].astype(np.float32)
    with torch.inference_mode():
        expected = net.policy.get_distribution(torch.as_tensor(obs)).distribution.logits.double().numpy()
    np.testing.assert_allclose(log_softmax(net.logits(obs), axis=1), expected, atol=1e-4)
    np.testing.assert_allclose(log_softmax(net.logits(obs[3:4]), axis=1), expected[3:4], atol=1e-4)
