"""A video of one Atari episode of any suite policy (learned, bc, expert, random).

Two writers, one per what is installed:

* mp4 through gymnasium's ``RecordVideo`` when moviepy imports (``pip install 'genplay[video]'``;
  moviepy finds ffmpeg in the imageio-ffmpeg wheel, so nothing is downloaded at run time);
* else an animated GIF written with Pillow (a dependency of matplotlib, so always there)
  from the ``render_mode="rgb_array"`` frames: larger files, but no extra package.

Frames are the emulator's full-colour 210x160 screens, one per agent step, at 15 fps
(60 Hz emulation, 4 frames per step), so the video plays in real time.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np

from genplay.envs.atari import evaluation_options
from genplay.gail.suites.atari_suite import PolicySpec, SuiteConfig, load_policies

VIDEO_FPS = 15
GIF_MAX_FRAMES = 10_000
"""A GIF keeps every frame in memory until it is written: after ~11 minutes of play it stops recording."""


def moviepy_available() -> bool:
    try:
        import moviepy  # noqa: F401
    except ImportError:
        return False
    return True


class GifRecorder(gym.Wrapper):
    """Keeps each rendered frame (palettised, ~34 KB) and writes them as one GIF on ``close``."""

    def __init__(self, env: gym.Env, path: Path, *, fps: int = VIDEO_FPS, max_frames: int = GIF_MAX_FRAMES) -> None:
        super().__init__(env)
        self.path, self.fps, self.max_frames = path, fps, max_frames
        self.frames: list = []

    def _grab(self) -> None:
        from PIL import Image

        if len(self.frames) < self.max_frames:
            frame = np.asarray(self.env.render(), dtype=np.uint8)
            self.frames.append(Image.fromarray(frame).convert("P", palette=Image.Palette.ADAPTIVE))

    def reset(self, **kwargs):
        out = self.env.reset(**kwargs)
        self._grab()
        return out

    def step(self, action):
        out = self.env.step(action)
        self._grab()
        return out

    def close(self) -> None:
        if self.frames:
            first, *rest = self.frames
            first.save(self.path, save_all=True, append_images=rest, duration=round(1000 / self.fps), loop=0)
            self.frames = []
        super().close()


def record_episode(
    game: str,
    spec: PolicySpec,
    out_dir: str | Path,
    *,
    seed: int = 0,
    deterministic: bool = True,
    max_steps: int | None = None,
    fmt: str = "auto",
) -> Path:
    """Play one episode of ``spec`` on ``game`` (full game unless ``max_steps``) and write its video.

    ``fmt`` is ``"mp4"`` (needs moviepy), ``"gif"`` or ``"auto"`` (mp4 where moviepy imports).
    Returns the video's path: ``out_dir/<game>-<policy>.mp4`` or ``.gif``.
    """
    from genplay.envs.atari import make_atari

    if fmt not in ("auto", "mp4", "gif"):
        raise ValueError(f"video format must be auto, mp4 or gif, got {fmt!r}")
    mp4 = fmt == "mp4" or (fmt == "auto" and moviepy_available())
    config = SuiteConfig((game,), (spec,), episodes=1, seeds=(seed,), deterministic=deterministic, max_steps=max_steps)
    game = config.games[0]
    player = load_policies(config)[spec.name, game]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{game}-{re.sub(r'[^A-Za-z0-9_.-]', '_', spec.name)}"
    env = make_atari(game, record_ram=spec.kind == "expert", render_mode="rgb_array", **evaluation_options(game))
    if mp4:
        from gymnasium.wrappers import RecordVideo

        with warnings.catch_warnings():  # "overwriting existing videos": only this video's name is written
            warnings.simplefilter("ignore")
            env = RecordVideo(env, str(out), episode_trigger=lambda e: e == 0, name_prefix=stem, fps=VIDEO_FPS)
        path = out / f"{stem}-episode-0.mp4"
    else:
        path = out / f"{stem}.gif"
        env = GifRecorder(env, path)
    try:
        _play_one(env, spec.kind, player, seed=seed, max_steps=max_steps)
    finally:
        env.close()
    if mp4:
        path = path.replace(out / f"{stem}.mp4")
    return path


def _play_one(env: gym.Env, kind: str, player, *, seed: int, max_steps: int | None) -> None:
    if kind == "expert":
        from genplay.envs.atari_experts import play_game

        play_game(env, player(np.random.default_rng(seed)), seed=seed, max_steps=max_steps)
        return
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    steps, done = 0, False
    while not done and (max_steps is None or steps < max_steps):
        action = env.action_space.sample() if player == "random" else int(np.asarray(player(obs[None]))[0])
        obs, _, terminated, truncated, _ = env.step(action)
        steps += 1
        done = terminated or truncated
