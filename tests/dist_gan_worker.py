"""One rank of tests/test_distributed_gan.py, launched by ``torchrun --nproc_per_node 2`` (gloo, CPU).

For each image-GAN model: 2 rounds of one process on whole batches (in this process, no
group) against 2 rounds of this rank on its half of each batch; then a 2-rank run of the
music GAN the same way; then a 2-rank image run that writes a checkpoint (rank 0) for the
test to resume on 1 process. Results go to ``OUT/rank{r}.json``. Set ``GENPLAY_NO_AVERAGE=1``
to switch the gradient averaging off (the test must then fail).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from genplay.generative.core import distributed as D
from genplay.generative.images.data import ImageData
from genplay.generative.images.trainer import ImageGAN, preset


def tiny_data() -> ImageData:
    """64 + 16 random 8x8 'images' in [-1, 1] with 4 classes (no data set needed)."""
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.uniform(-1, 1, (80, 1, 8, 8)), dtype=torch.float32)
    y = torch.as_tensor(rng.integers(0, 4, 80), dtype=torch.int64)
    return ImageData("tiny", x[:64], y[:64], x[64:], y[64:], 4)


def tiny_gan(model: str, steps: int, dist: D.DistContext | None = None) -> ImageGAN:
    """A small config of ``model`` with a global batch of 16."""
    cfg = preset(model, steps=steps, batch_size=16, base_channels=8, z_dim=8, ema_decay=0.9, device="cpu")
    return ImageGAN(config=cfg, image_shape=(1, 8, 8), n_classes=4, dist=dist)


def state_vector(modules: list[torch.nn.Module]) -> torch.Tensor:
    """Every float parameter and buffer (batch-norm statistics included), flattened."""
    return torch.cat([t.detach().reshape(-1).double() for m in modules for t in m.state_dict().values()])


def gan_vector(gan: ImageGAN) -> torch.Tensor:
    return state_vector([gan.generator, gan.critic, gan.sampler])


def image_check(ctx: D.DistContext, model: str) -> dict:
    """Max |difference| between 1 process on whole batches and this rank on half batches, after 2 rounds."""
    data = tiny_data()
    ref = tiny_gan(model, 2)
    ref.train(data, log_every=1)
    par = tiny_gan(model, 2, ctx)
    par.train(data, log_every=1)
    diff = float((gan_vector(ref) - gan_vector(par)).abs().max())
    return {"diff": diff, "params": gan_vector(par).tolist()[:2000]}


def music_check(ctx: D.DistContext) -> float:
    """The same for the music GAN's ``train`` on random rolls."""
    from genplay.generative.music.data import BARS, STEPS_PER_BAR, TRACKS, Rolls
    from genplay.generative.music.trainer import MusicGANConfig, train

    rng = np.random.default_rng(1)
    windows = (rng.random((32, len(TRACKS), BARS * STEPS_PER_BAR, 12)) < 0.1).astype(np.float32)
    rolls = Rolls(windows=windows, lowest_pitch=60, n_songs=1)
    cfg = MusicGANConfig(steps=2, batch_size=8, z_dim=4, gen_width=8, critic_width=4, n_critic=1, device="cpu")
    ref, _ = train(cfg, rolls, log_every=1)
    par, _ = train(cfg, rolls, log_every=1, dist=ctx)
    # The biases of the layers feeding a batch norm get a gradient of 0 up to float noise (the
    # norm subtracts them); Adam turns that noise into +-lr steps whatever the summation order,
    # so they and the following norms' running means are left out.
    dead = {"bar.0.bias", "bar.4.bias", "bar.7.bias", "bar.2.running_mean", "bar.5.running_mean", "bar.8.running_mean"}
    a, b = ref.state_dict(), par.state_dict()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if k not in dead)


def main() -> None:
    out = Path(sys.argv[1])
    torch.set_num_threads(1)
    ctx = D.init_from_env("cpu")
    assert ctx is not None
    if os.environ.get("GENPLAY_NO_AVERAGE") == "1":  # the negative control: no averaging at all
        D.allreduce_grads = lambda params, ctx: None
        import genplay.generative.core.gan as gan_module

        gan_module.allreduce_grads = D.allreduce_grads
    result: dict = {"world_size": ctx.world_size, "backend": ctx.backend}
    for model in ("dcgan", "cgan", "wgan-gp"):
        result[model] = image_check(ctx, model)
    result["music_diff"] = music_check(ctx)
    run = tiny_gan("dcgan", 2, ctx)
    run.train(tiny_data(), out_dir=out / "run", log_every=1)
    result["run_history"] = run.history
    (out / f"rank{ctx.rank}.json").write_text(json.dumps(result))
    D.shutdown()


if __name__ == "__main__":
    main()
