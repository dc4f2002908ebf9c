"""``--ray``: suite jobs as Ray tasks on a local Ray instance this file starts; same numbers as the local
path, a failing job retried and then reported (JSON, table, one stderr line, exit 1); no Ray, exit 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from genplay.cli import main
from genplay.gail.suites.fanout import Job, failures, run_jobs


def test_local_path_runs_in_order_and_raises_as_before():
    seen: list[int] = []

    def job(x: int) -> int:
        seen.append(x)
        if x == 3:
            raise RuntimeError("boom")
        return x * x

    assert [r.value for r in run_jobs(job, [Job(str(x), {"x": x}) for x in range(3)])] == [0, 1, 4]
    with pytest.raises(RuntimeError, match="boom"):  # no Ray: a failure is the exception it always was
        run_jobs(job, [Job(str(x), {"x": x}) for x in (2, 3, 4)])
    assert seen == [0, 1, 2, 2, 3]


@pytest.mark.parametrize("suite", ["atari", "boardgames"])
def test_ray_not_installed_is_one_error_line(monkeypatch, capsys, tmp_path, suite):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    if suite == "atari":
        argv = ["evaluate", "--suite", "atari", "--games", "pong", "--policy", "random", "--out", str(tmp_path)]
    else:
        pytest.importorskip("pyspiel")
        argv = ["evaluate", "--suite", "boardgames", "--env", "genplay/TicTacToe-v0", "--policy", "random"]
    assert main([*argv, "--ray"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --ray:") and "pip install 'genplay[ray]'" in err
    assert not (tmp_path / "results.json").exists()


def test_ray_flags_need_ray_and_a_suite(capsys):
    assert main(["evaluate", "--suite", "atari", "--policy", "random", "--ray-retries", "1"]) == 2
    assert "--ray-retries: only with --ray" in capsys.readouterr().err
    assert main(["evaluate", "--env", "CartPole-v1", "--policy", "random", "--ray"]) == 2
    assert "--ray: only with --suite" in capsys.readouterr().err


# ---------------------------------------------------------------------------- through Ray


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_retries_a_failing_job_then_reports_it(ray_local, tmp_path):
    log = tmp_path / "attempts"

    def job(x: int) -> int:
        with open(log, "a") as f:  # every attempt leaves a line, whichever worker ran it
            f.write(f"{x}\n")
        tries = Path(log).read_text().split().count(str(x))
        if x == 2 or (x == 1 and tries == 1):  # 2 always fails; 1 fails once, then succeeds on its retry
            raise RuntimeError(f"job {x} broke")
        return 10 * x

    jobs = [Job(f"job {x}", {"x": x}, num_cpus=1) for x in range(4)]
    landed: list[str] = []
    results = run_jobs(job, jobs, ray_address="local", max_retries=2, on_done=lambda r: landed.append(r.job.label))
    assert [r.job.label for r in results] == ["job 0", "job 1", "job 2", "job 3"]  # the order given
    assert [r.value for r in results] == [0, 10, None, 30] and sorted(landed) == [j.label for j in jobs]
    assert failures(results) == [{"job": "job 2", "error": "RuntimeError: job 2 broke", "attempts": 3}]
    attempts = log.read_text().split()
    assert attempts.count("2") == 3 and attempts.count("1") == 2 and attempts.count("0") == 1


@pytest.mark.slow
def test_atari_suite_through_ray_gives_the_local_numbers(ray_local):
    from genplay.gail.suites.atari_suite import PolicySpec, SuiteConfig, run_suite

    config = SuiteConfig(("pong",), (PolicySpec("random"),), episodes=2, seeds=(0, 1), max_steps=40)
    local = run_suite(config, progress=False).to_dict()
    remote = run_suite(config, progress=False, ray_address="local").to_dict()
    assert remote == local and local["failed"] == []
    assert np.shape(local["policies"]["random"]["games"]["pong"]["scores"]) == (2, 2)


@pytest.mark.slow
def test_cli_reports_a_job_that_keeps_failing(ray_local, monkeypatch, tmp_path, capsys):
    import genplay.gail.suites.atari_suite as suite

    play_job = suite.play_job

    def broken(config, game, spec, seed, player=None):
        if seed == 1:
            raise OSError("emulator gone")
        return play_job(config, game, spec, seed, player)

    monkeypatch.setattr(suite, "play_job", broken)
    argv = ["evaluate", "--suite", "atari", "--games", "pong", "--policy", "random", "--seeds", "0,1", "--episodes"]
    assert main([*argv, "2", "--max-steps", "30", "--out", str(tmp_path), "--ray", "--ray-retries", "1", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["failed"]  # Ray's retry notices stay off stdout
    last = err.splitlines()[-1]
    assert last.startswith("error: 1 job(s) failed") and "pong/random/seed 1 (OSError: emulator gone)" in last
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["failed"] == [{"job": "pong/random/seed 1", "error": "OSError: emulator gone", "attempts": 2}]
    assert np.shape(data["policies"]["random"]["games"]["pong"]["scores"]) == (1, 2)  # seed 0 kept
    assert "pong/random/seed 1: OSError: emulator gone (2 attempts)" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "scores.png").stat().st_size > 0


@pytest.mark.slow
def test_boardgames_suite_through_ray_gives_the_local_numbers(ray_local, tmp_path):
    pytest.importorskip("pyspiel")
    from genplay.gail.suites.boardgame_suite import run_suite

    local = run_suite("genplay/TicTacToe-v0", {"mcts:20": "mcts:20"}, 1, seed=3)
    remote = run_suite("genplay/TicTacToe-v0", {"mcts:20": "mcts:20"}, 1, seed=3, ray_address="local")
    assert remote == local and len(local["pairings"]) == 15 and local["failed"] == []


SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
FAKE_BENCH = f"""
import json, sys
sys.path.insert(0, {str(SCRIPTS)!r})
import argparse
from benchlib import ArgumentParser, add_seed_fanout, fan_out_seeds
p = ArgumentParser()
p.add_argument("--seed", type=int, default=0)
p.add_argument("--fail-seed", type=int, default=-1)
add_seed_fanout(p)
args = p.parse_args()
if not fan_out_seeds(args):
    if args.seed == args.fail_seed:
        sys.exit("broken seed")
    print("progress")
    print(json.dumps({{"seed": args.seed, "fail_seed": args.fail_seed}}))
"""


def _bench_module():
    sys.path.insert(0, str(SCRIPTS))
    try:
        import benchlib
    finally:
        sys.path.remove(str(SCRIPTS))
    return benchlib


def test_bench_flags_are_removed_from_each_run():
    strip = _bench_module()._without_fanout
    argv = ["--game", "pong", "--seeds", "0,1", "--ray", "--seed=4", "--ray-gpus", "0.5", "--out", "f.jsonl"]
    assert strip(argv) == ["--game", "pong", "--out", "f.jsonl"]
    assert strip(["--ray", "10.0.0.1:6379", "--x", "--ray-cpus=2", "--seeds=1"]) == ["--x"]


@pytest.mark.slow
def test_bench_seeds_run_one_by_one_and_a_failed_seed_is_named(tmp_path):
    import subprocess

    script = tmp_path / "fake_bench.py"
    script.write_text(FAKE_BENCH)
    run = subprocess.run(
        [sys.executable, str(script), "--seeds", "0,1,2", "--fail-seed", "1"], capture_output=True, text=True
    )
    assert [json.loads(line)["seed"] for line in run.stdout.splitlines()] == [0, 2]
    assert run.returncode == 1 and "seed 1 failed after 1 tries" in run.stderr and "broken seed" in run.stderr
    bad = subprocess.run([sys.executable, str(script), "--ray"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --ray needs --seeds (the runs to fan out)"
    for argv, expected in (
        (["--ray-gpus", "1"], "error: --ray-cpus / --ray-gpus need --ray"),
        (["--seeds", "0", "--ray", "--ray-cpus", "nan"], "--ray-cpus: expected a finite number > 0, got 'nan'"),
        (["--seeds", "1,1"], "--seeds: expected distinct seeds >= 0, comma-separated; got '1,1'"),
    ):
        bad = subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True)
        lines = bad.stderr.strip().splitlines()
        assert bad.returncode == 2 and len(lines) == 1 and lines[0].endswith(expected), (argv, bad.stderr)


@pytest.mark.slow
def test_bench_seeds_through_ray_are_retried_then_reported(ray_local, tmp_path, capsys):
    import argparse

    benchlib = _bench_module()
    script = tmp_path / "fake_bench.py"
    script.write_text(FAKE_BENCH)
    p = argparse.ArgumentParser()
    p.add_argument("--fail-seed", type=int)
    benchlib.add_seed_fanout(p)
    argv = ["--seeds", "3,5", "--fail-seed", "5", "--ray"]
    with pytest.raises(SystemExit) as stop:
        benchlib.fan_out_seeds(p.parse_args(argv), argv, script=str(script))
    out, err = capsys.readouterr()
    assert stop.value.code == 1 and json.loads(out) == {"seed": 3, "fail_seed": 5}
    assert "seed 5 failed after 3 tries" in err  # its first try and Ray's 2 retries


@pytest.mark.parametrize(("address", "needle"), [("127.0.0.1:9", "no Ray head answers"), ("nohost", "HOST:PORT")])
def test_an_unreachable_ray_address_is_one_line_within_seconds(address, needle):
    import time

    from genplay.errors import GenplayError
    from genplay.gail.suites.fanout import reachable

    start = time.monotonic()
    with pytest.raises(GenplayError, match=needle):
        reachable(address)
    assert time.monotonic() - start < 10


def test_connect_drops_the_fd2_chatter_of_a_failed_ray_init(capfd):
    """Ray's C++ client logs each retry straight to file descriptor 2: a failed connect is one error line."""
    import os

    from genplay.errors import GenplayError
    from genplay.gail.suites.fanout import connect

    class FailingRay:
        def is_initialized(self) -> bool:
            return False

        def init(self, **kwargs) -> None:
            os.write(2, b"[W gcs_client.cc:210] Failed to get cluster ID from GCS server\n" * 3)
            raise ConnectionError("Failed to connect to Ray cluster")

    with pytest.raises(GenplayError, match="cannot connect to Ray"):
        connect(FailingRay(), "auto")
    assert capfd.readouterr().err == ""
