"""The configs split as the algorithms are (run, reward model, BC, learner), with flat flag names kept.

``tests/data/config_before_split`` holds real runs written by the code before the split
(commit 58cd565: ``genplay gail train``, ``genplay train --algo airl``, ``genplay gail train
--algo dac`` on CartPole for 64 steps): their ``config.json`` and ``checkpoint.pt`` store the
settings flat (``disc_lr``, ``bc_epochs``, ``seed`` beside ``ppo``), and must still be read,
resumed and exported.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from genplay.cli import main
from genplay.gail.algos.airl import AIRLConfig, AIRLRewardConfig
from genplay.gail.algos.config import BCConfig, GAILConfig, PPOConfig, RunConfig, config_from_dict, replace
from genplay.gail.algos.presets import preset
from genplay.gail.rewards.config import RewardModelConfig
from genplay.gail.saving.checkpoint import checkpoint_config, read_checkpoint
from genplay.gail.saving.off_policy_checkpoint import read_off_policy
from genplay.settings import ConfigError, flat_names, flat_settings, section_prefixes, sections

OLD = Path(__file__).parent / "data" / "config_before_split"
RUN_KEYS = ("algo", "env_id", "env", "world_size", "backend", "dqn")
"""``config.json`` keys that are not the config's settings."""


def _old_settings(algo: str) -> dict:
    meta = json.loads((OLD / algo / "config.json").read_text())
    return {k: v for k, v in meta.items() if k not in RUN_KEYS}


def test_gail_config_is_made_of_its_parts():
    config = GAILConfig()
    assert isinstance(config.run, RunConfig) and isinstance(config.reward, RewardModelConfig)
    assert isinstance(config.bc, BCConfig) and isinstance(config.ppo, PPOConfig)
    assert {n: p for n, (p, _) in sections(GAILConfig).items()} == {"run": "", "reward": "", "bc": "bc_", "ppo": "ppo_"}
    assert sections(AIRLConfig)["reward"][1] is AIRLRewardConfig
    assert section_prefixes(GAILConfig) == {
        "GAILConfig": "",
        "RunConfig": "",
        "RewardModelConfig": "",
        "BCConfig": "bc-",
        "PPOConfig": "ppo-",
    }


def test_every_registered_config_names_each_setting_once():
    """Flat names are flags: two settings with one name would be one flag for both (flat_names refuses it)."""
    from genplay.gail.algos.registry import ALGORITHMS

    for name, spec in ALGORITHMS.items():
        cls = spec.load()[1]
        assert flat_names(cls), name
        assert set(flat_settings(spec.default_config("CartPole-v1"))) == set(flat_names(cls)), name


@pytest.mark.parametrize("algo", ["gail", "airl"])
def test_every_setting_of_the_flat_layout_has_one_home(algo):
    """Each flat name an old run stored (its flag's name) is one field of one section, and back."""
    cls = AIRLConfig if algo == "airl" else GAILConfig
    old = _old_settings(algo)
    names = set(old) - {"ppo"} | {"ppo_" + k for k in old["ppo"]}
    assert names == set(flat_names(cls))


@pytest.mark.parametrize("algo", ["gail", "airl", "dac"])
def test_an_old_flat_config_reads_as_the_same_settings(algo):
    cls = AIRLConfig if algo == "airl" else GAILConfig
    old = _old_settings(algo)
    config = config_from_dict(old, cls)
    assert type(config) is cls and type(config.reward) is (AIRLRewardConfig if algo == "airl" else RewardModelConfig)
    flat = flat_settings(config)
    want = {**{k: v for k, v in old.items() if k != "ppo"}, **{"ppo_" + k: v for k, v in old["ppo"].items()}}
    assert {k: list(v) if isinstance(v, tuple) else v for k, v in flat.items()} == want
    assert config.run.seed == old["seed"] and config.reward.disc_lr == old["disc_lr"]
    assert config.bc.epochs == old["bc_epochs"] and config.ppo.n_steps == old["ppo"]["n_steps"]
    assert config_from_dict(json.loads(json.dumps(dataclasses.asdict(config))), cls) == config  # the new layout


def test_a_checkpoint_from_before_the_split_gives_its_config():
    path = OLD / "gail" / "checkpoint.pt"
    config = checkpoint_config(read_checkpoint(path), path)
    assert (config.run.n_envs, config.run.seed, config.reward.disc_hidden, config.bc.epochs) == (2, 3, (8,), 1)


def test_replace_takes_flat_names_and_rebuilds_each_part_once():
    config = replace(preset("CartPole-v1"), disc_lr=0.01, bc_epochs=3, ppo_gamma=0.9, seed=7, demo_symmetries=False)
    assert (config.reward.disc_lr, config.bc.epochs, config.ppo.gamma, config.run.seed) == (0.01, 3, 0.9, 7)
    # two settings of one part that are only valid together, and a part given whole beside a flat name
    replace(GAILConfig(), disc_loss="wasserstein", absorbing=False)
    assert replace(GAILConfig(), absorbing=False, ppo=PPOConfig(gamma=1.0)).ppo.gamma == 1.0
    with pytest.raises(TypeError):
        replace(GAILConfig(), no_such_setting=1)


def test_each_part_validates_its_own_fields():
    with pytest.raises(ConfigError, match=r"^BCConfig.epochs: expected an integer >= 0, got -1$"):
        replace(GAILConfig(), bc_epochs=-1)
    with pytest.raises(ConfigError, match=r"^RunConfig.n_envs: expected an integer >= 1, got 0$"):
        replace(GAILConfig(), n_envs=0)
    with pytest.raises(ValueError, match=r"^RewardModelConfig.disc_loss 'wasserstein' cannot train"):
        replace(GAILConfig(), disc_loss="wasserstein")
    with pytest.raises(ConfigError, match=r"^GAILConfig.bc: expected a BCConfig, got dict$"):
        GAILConfig(bc={"epochs": 3})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^AIRLRewardConfig.use_next_obs: must be true"):
        replace(AIRLConfig(), use_next_obs=False)


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--bc-epochs", "-1"], "error: --bc-epochs: expected an integer >= 0, got -1"),
        (["--disc-loss", "wasserstein"], "error: --disc-loss 'wasserstein' cannot train the absorbing state's"),
        (["--ppo-gamma", "1", "--absorbing", "true"], "error: --absorbing needs ppo.gamma < 1"),
    ],
)
def test_a_part_s_error_names_the_flag(tmp_path, capsys, flags, error):
    argv = ["gail", "train", "--env", "CartPole-v1", "--demos", str(OLD / "demos.npz"), "--out", str(tmp_path / "r")]
    assert main([*argv, "--timesteps", "10", *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(error), err


TINY = ["--n-envs", "2", "--ppo-n-steps", "32", "--ppo-batch-size", "32", "--ppo-n-epochs", "1", "--disc-batch-size"]
TINY += ["32", "--disc-updates", "1", "--disc-replay-rollouts", "1", "--disc-hidden", "8", "--ppo-net-arch", "8"]
TINY += ["--bc-epochs", "1", "--checkpoint-every", "0", "--device", "cpu", "--seed", "3", "--disc-lr", "0.002"]
"""The flags the runs in ``OLD`` were trained with (AIRL's also ``--airl-h-hidden 8``; DAC's are its own)."""
DAC = ["--n-envs", "2", "--disc-hidden", "8", "--disc-batch-size", "32", "--dqn-learning-starts", "32"]
DAC += ["--dqn-batch-size", "16", "--dqn-expert-batch-size", "16", "--dqn-net-arch", "8", "--dqn-buffer-size", "200"]
DAC += ["--device", "cpu", "--checkpoint-every", "0"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("algo", "command"),
    [
        ("gail", ["gail", "train", *TINY]),
        ("airl", ["train", "--algo", "airl", *TINY, "--airl-h-hidden", "8"]),
        ("dac", ["gail", "train", "--algo", "dac", *DAC]),
    ],
)
def test_a_run_from_before_the_split_resumes(tmp_path, capsys, algo, command):
    """``--resume`` on a run written flat, with the flags it was trained with: its settings are read back
    and match, training goes on, and the new checkpoint and config.json hold the sections (~2 s in all)."""
    run = tmp_path / algo
    shutil.copytree(OLD / algo, run)
    argv = [*command, "--env", "CartPole-v1", "--demos", str(OLD / "demos.npz"), "--out", str(run), "--quiet"]
    assert main([*argv, "--resume", "--timesteps", "128"]) == 0, capsys.readouterr().err
    if algo == "dac":
        state = read_off_policy(run / "checkpoint.pt", "dac")
        steps = state["counters"]["num_timesteps"]
    else:
        state = read_checkpoint(run / "checkpoint.pt")
        steps = state["generator"]["meta"]["num_timesteps"]
    assert steps == 128 and state["config"]["run"]["seed"] == _old_settings(algo)["seed"]
    assert json.loads((run / "config.json").read_text())["reward"]["disc_hidden"] == [8]


@pytest.mark.parametrize("algo", ["gail", "airl"])
def test_a_reward_from_before_the_split_exports(tmp_path, algo):
    from genplay.gail.rewards.export import export_reward

    out = export_reward(OLD / algo, tmp_path / "reward")
    model = json.loads((out / "reward.json").read_text())
    assert model["algo"] == algo and model["architecture"]["hidden"] == [8] and model["gamma"] == 0.99
