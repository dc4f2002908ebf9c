"""Demonstrations: collection, the .npz format round trip, and validation of every bad input."""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from genplay.errors import DemoError, EnvError, GenplayError
from genplay.gail.data.collect import collect_demos
from genplay.gail.data.demos import Demos, check_demos_match_env, load_demos, save_demos
from genplay.gail.data.spaces import describe_space

# ---------------------------------------------------------------------------- helpers


def _raw(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _rewrite(path: Path, raw: dict[str, np.ndarray]) -> Path:
    np.savez(path, **raw)  # np.savez appends .npz unless the name already ends with it
    return path


@pytest.fixture()
def good_file(tmp_path, cartpole_random_demos) -> Path:
    path = tmp_path / "demos.npz"
    save_demos(path, cartpole_random_demos)
    return path


def _meta(raw) -> dict:
    return json.loads(str(raw["metadata"]))


def _synthetic() -> Demos:
    """Two episodes (lengths 2 and 1, the first terminated) with obs equal to their row labels."""
    return Demos(
        obs=np.array([[0.0], [1.0], [2.0], [10.0], [11.0]], dtype=np.float32),
        acts=np.array([1, 0, 1], dtype=np.int64),
        rewards=np.array([1.0, 2.0, 5.0], dtype=np.float32),
        episode_lengths=np.array([2, 1], dtype=np.int64),
        terminated=np.array([True, False]),
        env_id="Synthetic-v0",
        observation_space=describe_space(spaces.Box(-100, 100, (1,), np.float32)),
        action_space=describe_space(spaces.Discrete(2)),
    )


# ---------------------------------------------------------------------------- collection


def test_collect_heuristic_demos(cartpole_demos):
    d = cartpole_demos
    assert d.n_episodes == 5 and d.env_id == "CartPole-v1"
    np.testing.assert_array_equal(d.episode_lengths, [500] * 5)
    assert not d.terminated.any()  # the heuristic survives: every episode is a time-limit truncation
    assert d.obs.shape == (5 * 501, 4) and d.obs.dtype == np.float32
    assert d.acts.shape == (2500,) and d.acts.dtype == np.int64 and set(np.unique(d.acts)) == {0, 1}
    np.testing.assert_array_equal(d.episode_returns(), [500.0] * 5)
    assert d.metadata["policy"] == "heuristic" and d.metadata["seed"] == 0


def test_collect_random_demos_end_by_termination(cartpole_random_demos):
    d = cartpole_random_demos
    assert d.n_episodes == 5 and d.terminated.all()
    assert (d.episode_lengths < 200).all()
    assert d.obs.shape == (d.n_transitions + d.n_episodes, 4)
    np.testing.assert_allclose(d.episode_returns(), d.episode_lengths.astype(np.float32))


def test_collected_episodes_replay_exactly(cartpole_random_demos):
    """obs[t], acts[t] -> obs[t+1]: replaying the recorded actions from the same seed gives the same obs."""
    d = cartpole_random_demos
    obs_idx = np.concatenate([[0], np.cumsum(d.episode_lengths + 1)])
    act_idx = np.concatenate([[0], np.cumsum(d.episode_lengths)])
    env = gym.make("CartPole-v1")
    for i in range(d.n_episodes):
        ep_obs, ep_acts = d.obs[obs_idx[i] : obs_idx[i + 1]], d.acts[act_idx[i] : act_idx[i + 1]]
        obs, _ = env.reset(seed=d.metadata["seed"] + i)
        np.testing.assert_array_equal(obs, ep_obs[0])
        for t, a in enumerate(ep_acts):
            obs, _, term, _, _ = env.step(int(a))
            np.testing.assert_array_equal(obs, ep_obs[t + 1])
        assert term
    env.close()


def test_collect_rejects_zero_episodes():
    with pytest.raises(DemoError, match="n_episodes"):
        collect_demos("CartPole-v1", "random", 0)


def test_collect_unknown_env():
    with pytest.raises(EnvError, match="NoSuchEnv-v0"):
        collect_demos("NoSuchEnv-v0", "random", 1)


# ---------------------------------------------------------------------------- transitions


def test_transitions_of_hand_made_demos():
    t = _synthetic().transitions()
    np.testing.assert_array_equal(t["obs"][:, 0], [0.0, 1.0, 10.0])
    np.testing.assert_array_equal(t["next_obs"][:, 0], [1.0, 2.0, 11.0])
    np.testing.assert_array_equal(t["terminal"], [False, True, False])
    np.testing.assert_array_equal(t["acts"], [1, 0, 1])


def test_episode_returns_of_hand_made_demos():
    np.testing.assert_allclose(_synthetic().episode_returns(), [3.0, 5.0])
    assert _synthetic().n_transitions == 3 and _synthetic().n_episodes == 2


@pytest.mark.parametrize("which", ["cartpole_demos", "cartpole_random_demos"])
def test_transitions_next_obs_alignment_and_terminal_flags(which, request):
    d: Demos = request.getfixturevalue(which)
    t = d.transitions()
    n = d.n_transitions
    assert t["obs"].shape == t["next_obs"].shape == (n, 4) and t["terminal"].shape == (n,)
    last = np.cumsum(d.episode_lengths) - 1  # index of each episode's last transition
    within = np.setdiff1d(np.arange(n), last)
    np.testing.assert_array_equal(t["next_obs"][within], t["obs"][within + 1])  # next_obs[t] == obs[t+1]
    # an episode's last next_obs is its stored final observation, not the next episode's first
    ends = np.cumsum(d.episode_lengths + 1) - 1
    np.testing.assert_array_equal(t["next_obs"][last], d.obs[ends])
    starts = np.concatenate([[0], np.cumsum(d.episode_lengths)[:-1]])
    np.testing.assert_array_equal(t["obs"][starts], d.obs[ends - d.episode_lengths])
    expected_terminal = np.zeros(n, dtype=bool)
    expected_terminal[last[d.terminated]] = True
    np.testing.assert_array_equal(t["terminal"], expected_terminal)
    assert t["terminal"].sum() == d.terminated.sum()


# ---------------------------------------------------------------------------- subsampling


@pytest.mark.parametrize("which, every", [("cartpole_demos", 20), ("cartpole_random_demos", 3)])
def test_subsample_keeps_exact_transitions_stride_and_terminal_flags(which, every, request):
    d: Demos = request.getfixturevalue(which)
    s = d.subsample(every, offset_seed=1)
    info = s.metadata["subsample"]
    episode, step = np.array(info["source_episode"]), np.array(info["source_step"])
    assert s.n_episodes == s.n_transitions == len(episode) and (s.episode_lengths == 1).all()
    for e in range(d.n_episodes):  # a random offset below min(every, T), then one step in every
        kept = step[episode == e]
        assert len(kept) >= 1 and kept[0] < min(every, d.episode_lengths[e])
        np.testing.assert_array_equal(kept, np.arange(kept[0], d.episode_lengths[e], every))
    row = (np.cumsum(d.episode_lengths) - d.episode_lengths)[episode] + step
    full, sub = d.transitions(), s.transitions()
    for name in ("obs", "acts", "next_obs", "terminal"):  # each kept (s, a, s', terminal) is the source's
        np.testing.assert_array_equal(sub[name], full[name][row], err_msg=name)
    np.testing.assert_array_equal(s.rewards, d.rewards[row])
    # a kept step is terminated only if it ended a terminated episode: absorbing mass per live row kept
    ends_terminated = d.terminated[episode] & (step == d.episode_lengths[episode] - 1)
    np.testing.assert_array_equal(s.terminated, ends_terminated)
    assert info["source_transitions"] == d.n_transitions and info["every"] == every
    assert info["source_return_mean"] == pytest.approx(float(d.episode_returns().mean()))
    assert s.metadata["policy"] == d.metadata["policy"]
    again = d.subsample(every, offset_seed=1)
    np.testing.assert_array_equal(again.acts, s.acts)  # the offsets come from the seed alone


def test_subsample_round_trips_through_the_file_format(cartpole_random_demos, tmp_path):
    s = cartpole_random_demos.subsample(4, offset_seed=0)
    save_demos(tmp_path / "s.npz", s)
    loaded = load_demos(tmp_path / "s.npz", env_id="CartPole-v1")
    np.testing.assert_array_equal(loaded.transitions()["next_obs"], s.transitions()["next_obs"])
    np.testing.assert_array_equal(loaded.terminated, s.terminated)
    assert loaded.metadata == s.metadata


def test_subsample_terminal_step_kept_every_one_and_dict_observations():
    space = spaces.Dict({"pos": spaces.Box(-100, 100, (1,), np.float32), "flag": spaces.Discrete(3)})
    obs = {"pos": np.array([[0.0], [1.0], [2.0], [10.0], [11.0]], np.float32), "flag": np.array([0, 1, 2, 1, 0])}
    d = dataclasses.replace(_synthetic(), obs=obs, observation_space=describe_space(space))
    s = d.subsample(1)  # every step kept: the same transitions, each its own one-step episode
    t = s.transitions()
    np.testing.assert_array_equal(t["obs"]["pos"][:, 0], [0.0, 1.0, 10.0])
    np.testing.assert_array_equal(t["next_obs"]["flag"], [1, 2, 0])
    np.testing.assert_array_equal(t["terminal"], [False, True, False])
    np.testing.assert_array_equal(s.episode_returns(), [1.0, 2.0, 5.0])


def test_bc_baseline_budget_counts_samples_not_passes(cartpole_demos):
    """Subsampled demos are small: the BC baseline's epochs and patience grow so that an epoch covers
    BC_EPOCH_SAMPLES rows (counted in passes, 200 pairs were one minibatch step an epoch)."""
    from genplay.gail.algos.config import GAILConfig, replace
    from genplay.gail.runs.pipeline import BC_EPOCH_SAMPLES, behaviour_cloning

    small = cartpole_demos.subsample(5, offset_seed=0)  # 5 episodes of 500 steps: 500 pairs
    config = replace(GAILConfig(), seed=0, bc_epochs=2, bc_patience=1)
    bc = behaviour_cloning("CartPole-v1", small, config)
    passes = -(-BC_EPOCH_SAMPLES // small.n_transitions)
    assert small.n_transitions == 500 and passes == 17
    assert (bc.config.bc.epochs, bc.config.bc.patience) == (2 * passes, passes)
    assert bc.bc_done


@pytest.mark.parametrize("every", [0, -3, 2.5, True])
def test_subsample_rejects_bad_strides(every):
    with pytest.raises(DemoError, match="every"):
        _synthetic().subsample(every)


# ---------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("which", ["cartpole_demos", "cartpole_random_demos"])
def test_save_load_round_trip(which, request, tmp_path):
    d: Demos = request.getfixturevalue(which)
    path = tmp_path / "d.npz"
    save_demos(path, d)
    assert os.listdir(tmp_path) == ["d.npz"]  # written atomically: no temp file left
    loaded = load_demos(path, env_id="CartPole-v1")
    for name in ("obs", "acts", "rewards", "episode_lengths", "terminated"):
        a, b = getattr(d, name), getattr(loaded, name)
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert a.dtype == b.dtype, name
    assert loaded.env_id == d.env_id == "CartPole-v1"
    assert loaded.metadata == d.metadata
    assert loaded.observation_space == d.observation_space and loaded.action_space == d.action_space
    np.testing.assert_array_equal(loaded.episode_returns(), d.episode_returns())


def test_save_load_round_trip_dict_observations(tmp_path):
    space = spaces.Dict({"pos": spaces.Box(-1, 1, (2,), np.float32), "flag": spaces.Discrete(3)})
    obs = {"pos": np.arange(10, dtype=np.float32).reshape(5, 2) / 10, "flag": np.array([0, 1, 2, 1, 0])}
    d = dataclasses.replace(_synthetic(), obs=obs, observation_space=describe_space(space), metadata={"k": [1, 2]})
    path = tmp_path / "dict.npz"
    save_demos(path, d)
    assert {"obs.pos", "obs.flag"} <= set(_raw(path)) and "obs" not in _raw(path)
    loaded = load_demos(path)
    assert set(loaded.obs) == {"pos", "flag"}
    for k in obs:
        np.testing.assert_array_equal(loaded.obs[k], obs[k])
    assert loaded.metadata == {"k": [1, 2]}
    np.testing.assert_array_equal(loaded.transitions()["next_obs"]["flag"], [1, 2, 0])
    raw = _raw(path)
    del raw["obs.flag"]
    with pytest.raises(DemoError, match="obs.flag"):
        load_demos(_rewrite(tmp_path / "nokey.npz", raw))


def test_load_accepts_path_as_str(good_file):
    assert load_demos(str(good_file)).n_episodes == 5


# ---------------------------------------------------------------------------- bad inputs


def _assert_demo_error(path: Path, *needles: str, env_id: str | None = None) -> DemoError:
    with pytest.raises(DemoError) as info:
        load_demos(path, env_id=env_id)
    msg = str(info.value)
    assert str(path) in msg, msg
    for needle in needles:
        assert needle in msg, (needle, msg)
    assert "\n" not in msg
    return info.value


def test_missing_file(tmp_path):
    _assert_demo_error(tmp_path / "nope.npz", "no such file")


def test_directory_instead_of_file(tmp_path):
    _assert_demo_error(tmp_path, "no such file")


def test_truncated_file(good_file):
    data = good_file.read_bytes()
    good_file.write_bytes(data[: len(data) // 2])
    _assert_demo_error(good_file, "truncated or corrupt")


def test_garbage_bytes(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    _assert_demo_error(path, "not an .npz demos file (it is not a zip archive)")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    _assert_demo_error(path, "not an .npz demos file (it is not a zip archive)")


@pytest.mark.parametrize("content", [b"hello world\n", b"\x80\x04K\x01."])  # text, a pickle
def test_a_file_that_is_not_a_zip_never_reaches_numpys_pickle_path(tmp_path, content):
    path = tmp_path / "demos.npz"
    path.write_bytes(content)
    with pytest.raises(DemoError) as info:
        load_demos(path)
    assert "not a zip archive" in str(info.value) and "allow_pickle" not in str(info.value)


def test_a_pickled_object_array_member_is_named(tmp_path):
    np.savez(tmp_path / "d.npz", obs=np.array([object()], dtype=object))
    with pytest.raises(DemoError, match="pickled"):
        load_demos(tmp_path / "d.npz")


def _corrupt_member(path: Path, member: str) -> None:
    """Make the deflate stream of one zip member invalid (first block header: reserved type 11)."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    data = bytearray(path.read_bytes())
    off = info.header_offset
    name_len, extra_len = struct.unpack("<HH", data[off + 26 : off + 30])
    data[off + 30 + name_len + extra_len] = 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_compressed_member(good_file):
    _corrupt_member(good_file, "obs.npy")
    _assert_demo_error(good_file, "truncated or corrupt")


def test_npy_file_instead_of_npz(tmp_path):
    path = tmp_path / "demos.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((3, 4), dtype=np.float32))
    _assert_demo_error(path, "npz")


@pytest.mark.parametrize(
    "field", ["format_version", "metadata", "obs", "acts", "rewards", "episode_lengths", "terminated"]
)
def test_missing_field(good_file, field):
    raw = _raw(good_file)
    del raw[field]
    _assert_demo_error(_rewrite(good_file, raw), f"missing field '{field}'")


def _mutations():
    """(id, function raw -> None mutating it in place, the text the error must name)."""

    def obs_short(r):
        r["obs"] = r["obs"][:-1]

    def obs_wrong_width(r):
        r["obs"] = r["obs"][:, :3]

    def obs_nan(r):
        r["obs"] = r["obs"].copy()
        r["obs"][7, 2] = np.nan

    def obs_inf(r):
        r["obs"] = r["obs"].copy()
        r["obs"][3, 0] = -np.inf

    def obs_strings(r):
        r["obs"] = r["obs"].astype(str)

    def acts_float(r):
        r["acts"] = r["acts"].astype(np.float32)

    def acts_out_of_range(r):
        r["acts"] = r["acts"].copy()
        r["acts"][5] = 2

    def acts_negative(r):
        r["acts"] = r["acts"].copy()
        r["acts"][0] = -1

    def acts_2d(r):
        r["acts"] = r["acts"][:, None]

    def rewards_inf(r):
        r["rewards"] = r["rewards"].copy()
        r["rewards"][2] = np.inf

    def rewards_nan(r):
        r["rewards"] = r["rewards"].copy()
        r["rewards"][0] = np.nan

    def rewards_int(r):
        r["rewards"] = r["rewards"].astype(np.int64)

    def rewards_short(r):
        r["rewards"] = r["rewards"][:-1]

    def version_2(r):
        r["format_version"] = np.asarray(2, dtype=np.int64)

    def version_float(r):
        r["format_version"] = np.asarray(1.0)

    def version_vector(r):
        r["format_version"] = np.asarray([1], dtype=np.int64)

    def metadata_not_json(r):
        r["metadata"] = np.asarray("{env_id: CartPole-v1")

    def metadata_json_list(r):
        r["metadata"] = np.asarray("[1, 2, 3]")

    def metadata_no_env_id(r):
        meta = _meta(r)
        del meta["env_id"]
        r["metadata"] = np.asarray(json.dumps(meta))

    def metadata_no_action_space(r):
        meta = _meta(r)
        del meta["action_space"]
        r["metadata"] = np.asarray(json.dumps(meta))

    def lengths_empty(r):
        r["episode_lengths"] = np.zeros(0, dtype=np.int64)
        r["terminated"] = np.zeros(0, dtype=bool)
        r["obs"], r["acts"], r["rewards"] = r["obs"][:0], r["acts"][:0], r["rewards"][:0]

    def lengths_zero(r):
        r["episode_lengths"] = r["episode_lengths"].copy()
        r["episode_lengths"][1] = 0

    def lengths_float(r):
        r["episode_lengths"] = r["episode_lengths"].astype(np.float64)

    def lengths_2d(r):
        r["episode_lengths"] = r["episode_lengths"][:, None]

    def lengths_too_long(r):
        r["episode_lengths"] = r["episode_lengths"] + 1

    def terminated_int(r):
        r["terminated"] = r["terminated"].astype(np.int64)

    def terminated_wrong_len(r):
        r["terminated"] = r["terminated"][:-1]

    return [
        ("obs-short", obs_short, "'obs' has shape"),
        ("obs-wrong-width", obs_wrong_width, "'obs' has shape"),
        ("obs-nan", obs_nan, "'obs' contains NaN"),
        ("obs-inf", obs_inf, "'obs' contains NaN or inf"),
        ("obs-strings", obs_strings, "'obs' has dtype"),
        ("acts-float", acts_float, "'acts' has dtype float32"),
        ("acts-out-of-range", acts_out_of_range, "'acts' row 5 holds 2"),
        ("acts-negative", acts_negative, "'acts' row 0 holds -1"),
        ("acts-2d", acts_2d, "'acts' has shape"),
        ("rewards-inf", rewards_inf, "'rewards' contains NaN or inf"),
        ("rewards-nan", rewards_nan, "'rewards' contains NaN or inf"),
        ("rewards-int", rewards_int, "'rewards' must be float"),
        ("rewards-short", rewards_short, "'rewards' must be float of shape"),
        ("version-2", version_2, "'format_version' is 2"),
        ("version-float", version_float, "'format_version' must be an integer"),
        ("version-vector", version_vector, "'format_version' must be an integer scalar"),
        ("metadata-not-json", metadata_not_json, "'metadata' is not a JSON object"),
        ("metadata-json-list", metadata_json_list, "'metadata' is not a JSON object"),
        ("metadata-no-env-id", metadata_no_env_id, "'metadata' has no 'env_id'"),
        ("metadata-no-action-space", metadata_no_action_space, "'metadata' has no 'action_space'"),
        ("lengths-empty", lengths_empty, "'episode_lengths' is empty"),
        ("lengths-zero", lengths_zero, "'episode_lengths' must be a 1-D array of positive integers"),
        ("lengths-float", lengths_float, "'episode_lengths' must be a 1-D array of positive integers"),
        ("lengths-2d", lengths_2d, "'episode_lengths' must be a 1-D array"),
        ("lengths-too-long", lengths_too_long, "'acts' has shape"),
        ("terminated-int", terminated_int, "'terminated' must be bool"),
        ("terminated-wrong-len", terminated_wrong_len, "'terminated' must be bool of shape"),
    ]


@pytest.mark.parametrize("mutate, needle", [m[1:] for m in _mutations()], ids=[m[0] for m in _mutations()])
def test_bad_field(good_file, mutate, needle):
    raw = _raw(good_file)
    mutate(raw)
    _assert_demo_error(_rewrite(good_file, raw), needle)


@pytest.mark.parametrize(
    "key, value",
    [("observation_space", "Box"), ("action_space", {"type": "Discrete"})],
    ids=["space-is-a-string", "discrete-without-n"],
)
def test_malformed_space_description(good_file, key, value):
    raw = _raw(good_file)
    meta = _meta(raw)
    meta[key] = value
    raw["metadata"] = np.asarray(json.dumps(meta))
    _assert_demo_error(_rewrite(good_file, raw), key)


def test_spaces_that_do_not_match_the_env(good_file):
    err = _assert_demo_error(
        good_file, "observation_space", "Pendulum-v1", "shape [4], expected [3]", env_id="Pendulum-v1"
    )
    assert "CartPole-v1" in str(err)


def test_action_space_that_does_not_match_the_env(good_file):
    raw = _raw(good_file)
    meta = _meta(raw)
    meta["action_space"]["n"] = 3
    raw["metadata"] = np.asarray(json.dumps(meta))
    path = _rewrite(good_file, raw)
    assert load_demos(path).action_space["n"] == 3  # valid on its own
    _assert_demo_error(path, "action_space", "n 3, expected 2", env_id="CartPole-v1")


def test_demos_of_cartpole_do_not_match_fixed_horizon_cartpole(good_file):
    _assert_demo_error(good_file, "observation_space", "bounds", env_id="genplay/CartPoleFixedHorizon-v0")


def test_unknown_env_id(good_file):
    with pytest.raises((EnvError, DemoError), match="NoSuchEnv-v0"):
        load_demos(good_file, env_id="NoSuchEnv-v0")


def test_check_demos_match_env_accepts_the_right_env(cartpole_demos):
    check_demos_match_env(cartpole_demos, "CartPole-v1")
    with pytest.raises(DemoError, match="observation_space"):
        check_demos_match_env(cartpole_demos, "Acrobot-v1")


def test_describe_space_rejects_unsupported_spaces():
    with pytest.raises(EnvError, match="unsupported space"):
        describe_space(spaces.Text(5))


def test_errors_are_user_facing():
    assert issubclass(DemoError, GenplayError) and issubclass(EnvError, GenplayError)


# ---------------------------------------------------------------------------- CLI


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_RUNTIME_DIR": "/tmp"}
    cmd = [sys.executable, "-m", "genplay", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def _assert_one_error_line(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.slow
def test_cli_demos_info_on_corrupt_file(good_file):
    data = good_file.read_bytes()
    good_file.write_bytes(data[: len(data) // 2])
    _assert_one_error_line(_cli("demos", "info", str(good_file), "--env", "CartPole-v1"), str(good_file))


@pytest.mark.slow
def test_cli_demos_info_on_good_file(good_file, cartpole_random_demos):
    proc = _cli("demos", "info", str(good_file), "--env", "CartPole-v1")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["n_episodes"] == 5 and info["env_id"] == "CartPole-v1"
    assert info["n_transitions"] == cartpole_random_demos.n_transitions
    assert info["terminated_episodes"] == 5


@pytest.mark.slow
def test_cli_demos_info_on_corrupt_compressed_member(good_file):
    _corrupt_member(good_file, "obs.npy")
    _assert_one_error_line(_cli("demos", "info", str(good_file), "--env", "CartPole-v1"), str(good_file))


@pytest.mark.parametrize("payload", ["[" * 100_000 + "]" * 100_000, '"' + "x" * (1 << 21) + '"'])
def test_crafted_metadata_deep_or_huge_is_one_error(tmp_path, payload):
    save_demos(tmp_path / "d.npz", collect_demos("CartPole-v1", "random", 1, seed=0))
    arrays = dict(np.load(tmp_path / "d.npz", allow_pickle=False))
    text = json.dumps(json.loads(str(arrays["metadata"])))
    arrays["metadata"] = np.array(text[:-1] + ', "extra": ' + payload + "}")
    np.savez(tmp_path / "crafted.npz", **arrays)
    with pytest.raises(DemoError, match="field 'metadata'"):
        load_demos(tmp_path / "crafted.npz")
