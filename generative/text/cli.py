"""``genplay text train|sample|evaluate``: the text modality's subcommands.

A run directory holds ``model.pt`` (the trained networks) and ``checkpoint.pt`` (the whole
trainer, for ``--resume``), both the core's ``state_io`` files (JSON + safetensors + sha256,
never a pickle), with ``vocab.json`` and ``config.json`` (plain JSON), all written atomically.
Training follows the run-directory contract of every genplay trainer (``run_dir_session``).
``train`` fits the generator by MLE and, with ``--adv-steps``, continues with SeqGAN; by default
it does not (tempered MLE: no adversarial model beat it on the oracle's frontier).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import torch

from genplay.errors import CheckpointError, GenplayError
from genplay.generative.core.checks import check_device, check_finite_modules, check_finite_tree, check_int
from genplay.generative.core.state_io import load_state, save_state
from genplay.generative.core.utils import atomic_write, seed_everything, select_device
from genplay.generative.text.models import TokenLM
from genplay.generative.text.seqgan import INT_BOUNDS, TextGANConfig
from genplay.settings import flag_names

MODEL_FILE, CHECKPOINT_FILE = "model.pt", "checkpoint.pt"
MARKERS = (MODEL_FILE, CHECKPOINT_FILE, "config.json", "vocab.json")
MODEL_KIND, CHECKPOINT_KIND = "genplay.text.model", "genplay.text.checkpoint"
MAX_SEQ_LEN, MAX_VOCAB, MAX_SAMPLES = 128, 200_000, 100_000
MACHINE = "the limit for a 2-core, 24 GB machine"
# run settings outside TextGANConfig: default, lowest, highest
SETTINGS = {
    "seq_len": (24, 5, MAX_SEQ_LEN),
    "min_count": (2, 1, 1_000_000),
    "mle_epochs": (20, 0, 100_000),
    "adv_steps": (0, 0, 1_000_000),  # tempered MLE: no adversarial model beat it (README, "Text on the same core")
    "disc_pretrain_steps": (200, 0, 1_000_000),
    "checkpoint_every": (10, 1, 1_000_000),
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def save_model(out: Path, gan, vocab, meta: dict) -> None:
    """Write the trained networks, the vocabulary and the run's metadata into ``out``."""
    check_finite_modules(gan.adv_steps, {"generator": gan.generator, "discriminator": gan.discriminator})
    save_state(out / MODEL_FILE, {"kind": MODEL_KIND, **gan.state_dict()})
    atomic_write(out / "vocab.json", vocab.save)
    atomic_write(out / "config.json", lambda p: Path(p).write_text(json.dumps(meta, indent=1), encoding="utf-8"))


def load_model(run_dir: str | Path, device: torch.device) -> tuple[TokenLM, object, dict]:
    """Generator, vocabulary and metadata of a ``genplay text train`` directory; bad files raise GenplayError."""
    from genplay.generative.text.corpus import Vocab

    d = Path(run_dir)
    path = d / MODEL_FILE
    if not path.is_file():
        raise GenplayError(f"{path}: file: expected a model written by 'genplay text train' (not found)")
    state = load_state(path)  # refuses damaged, pickled and foreign files, naming the file
    if state.get("kind") != MODEL_KIND:
        raise CheckpointError(f"{path}: generator: expected a genplay text model (kind {state.get('kind')!r})")
    try:
        shape = state["generator_shape"]
        vocab_size = check_int("vocab_size", shape["vocab_size"], 3, MAX_VOCAB)
        model = TokenLM(
            vocab_size=vocab_size,
            emb_dim=check_int("emb_dim", shape["emb_dim"], 1, INT_BOUNDS["emb_dim"][1]),
            hidden_dim=check_int("hidden_dim", shape["hidden_dim"], 1, INT_BOUNDS["hidden_dim"][1]),
            start_token=check_int("start_token", shape["start_token"], 0, vocab_size - 1),
        )
        seq_len = check_int("seq_len", shape["seq_len"], 5, MAX_SEQ_LEN)
        check_finite_tree(state["generator"], str(path))
        model.load_state_dict(state["generator"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, GenplayError) as exc:
        why = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"{path}: generator: expected a genplay text model ({why})") from None
    vocab = Vocab.load(d / "vocab.json")
    if len(vocab) != model.vocab_size:
        raise GenplayError(f"{d / 'vocab.json'}: tokens: expected {model.vocab_size} tokens, found {len(vocab)}")
    return model.to(device).eval(), vocab, {"seq_len": seq_len}


def _config(args: argparse.Namespace, base: TextGANConfig | None) -> TextGANConfig:
    names = [f.name for f in dataclasses.fields(TextGANConfig)]
    flags = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    try:
        return dataclasses.replace(base, **flags) if base is not None else TextGANConfig(**flags)
    except ValueError as exc:  # config messages read "TextGANConfig.<field>: <expected>"; name the flag
        raise GenplayError(flag_names(str(exc), {"TextGANConfig": ""})) from None


def _settings(args: argparse.Namespace, stored: dict) -> dict:
    """Run settings: the flag if given, else the checkpoint's (on ``--resume``), else the default; bounded."""
    out = {"corpus": args.corpus or stored.get("corpus", "pydoc")}
    for name, (default, low, high) in SETTINGS.items():
        value = getattr(args, name)
        out[name] = check_int(_flag(name), value if value is not None else stored.get(name, default), low, high)
    return out


def _read_checkpoint(path: Path) -> dict:
    state = load_state(path)
    if state.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(f"{path}: not a text checkpoint (kind {state.get('kind')!r})")
    check_finite_tree({k: state.get(k) for k in ("generator", "discriminator", "rollout")}, str(path))
    return state


def cmd_train(args: argparse.Namespace) -> None:
    from genplay.generative.core.progress import Heartbeat
    from genplay.generative.core.rundir import run_dir_session
    from genplay.generative.text.corpus import BOS, Vocab, load_text, split_corpus
    from genplay.generative.text.seqgan import SeqGAN

    check_device(args.device)
    out = Path(args.out)
    ckpt_path = out / CHECKPOINT_FILE
    config = _config(args, None)  # every flag is checked before anything is read or written
    stored: dict | None = None
    if args.resume and ckpt_path.is_file():  # continue with the stored settings; flags given override them
        stored = _read_checkpoint(ckpt_path)
        try:
            config = _config(args, TextGANConfig(**stored["config"]))
        except (KeyError, TypeError) as exc:
            raise CheckpointError(f"{ckpt_path}: its config is unusable ({exc})") from None
    settings = _settings(args, stored["settings"] if stored else {})
    seq_len, quiet = settings["seq_len"], args.quiet
    with run_dir_session(out, MARKERS, checkpoint=CHECKPOINT_FILE, resume=args.resume, force=args.force):
        seed_everything(config.seed)
        train_s, _ = split_corpus(load_text(settings["corpus"]), seq_len)
        if len(train_s) < 10:
            corpus = settings["corpus"]
            raise GenplayError(f"{corpus}: sentences: expected at least 10 sentences of 3-{seq_len - 1} words")
        vocab = Vocab(tuple(stored["vocab"])) if stored else Vocab.build(train_s, min_count=settings["min_count"])
        if len(vocab) > MAX_VOCAB:
            raise GenplayError(f"--min-count: the vocabulary has {len(vocab)} words, above {MAX_VOCAB} ({MACHINE})")
        data = vocab.encode(train_s, seq_len)
        device = select_device(args.device)
        gan = SeqGAN(data=data, vocab_size=len(vocab), config=config, device=device, start_token=BOS)
        done = {"mle_epochs": 0, "disc_pretrain_steps": 0, "adv_steps": 0}
        history: list[dict] = []
        if stored:
            try:
                gan.load_trainer_state(stored)
                done.update({k: int(stored["done"][k]) for k in done})
                history = list(stored["history"])
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:
                why = " ".join(str(exc).split())[:200]
                raise CheckpointError(f"{ckpt_path}: does not match this run's settings ({why})") from None

        def checkpoint() -> None:
            check_finite_modules(gan.adv_steps, {"generator": gan.generator, "discriminator": gan.discriminator})
            state = {"kind": CHECKPOINT_KIND, "settings": settings, "config": dataclasses.asdict(config)}
            state.update(vocab=list(vocab.tokens), done=done, history=history, **gan.trainer_state())
            save_state(ckpt_path, state)

        def emit(row: dict) -> None:
            history.append(row)
            if not quiet:
                print(json.dumps(row), flush=True)

        t0 = time.monotonic()
        per_epoch = math.ceil(len(data) / config.batch_size)
        beat = Heartbeat("text MLE (batches)", settings["mle_epochs"] * per_epoch, enabled=not quiet)
        for epoch in range(done["mle_epochs"] + 1, settings["mle_epochs"] + 1):
            nll = gan.mle_epoch(beat=lambda: beat.beat(gan.mle_updates))
            emit({"phase": "mle", "epoch": epoch, "train_nll": nll, "t": time.monotonic() - t0})
            done["mle_epochs"] = epoch
            checkpoint()
        pretrain = settings["disc_pretrain_steps"] if settings["adv_steps"] else 0
        beat = Heartbeat("text discriminator pretraining", pretrain, enabled=not quiet)
        for i in range(done["disc_pretrain_steps"] + 1, pretrain + 1):
            gan.pretrain_discriminator(1)
            beat.beat(i)
        if pretrain > done["disc_pretrain_steps"]:
            done["disc_pretrain_steps"] = pretrain
            checkpoint()
        beat = Heartbeat("text adversarial steps", settings["adv_steps"], enabled=not quiet)
        for step in range(done["adv_steps"] + 1, settings["adv_steps"] + 1):
            row = {"phase": "adv", "step": step, **gan.adversarial_step(), "t": time.monotonic() - t0}
            history.append(row)
            done["adv_steps"] = step
            beat.beat(step)
            if not quiet and step % 10 == 0:
                print(json.dumps(row), flush=True)
            if step % settings["checkpoint_every"] == 0 or step == settings["adv_steps"]:
                checkpoint()
        meta = {**settings, "config": dataclasses.asdict(config), "history": history}
        save_model(out, gan, vocab, meta)
    print(f"trained {settings['mle_epochs']} MLE epochs and {settings['adv_steps']} adversarial steps; run in {out}")


def cmd_sample(args: argparse.Namespace) -> None:
    from genplay.generative.text.models import sample

    check_device(args.device)
    device = select_device(args.device)
    model, vocab, meta = load_model(args.run, device)
    if args.top_k > model.vocab_size:
        raise GenplayError(f"--top-k: expected at most the vocabulary size {model.vocab_size}, got {args.top_k}")
    gen = torch.Generator(device=device).manual_seed(args.seed)
    ids = sample(model, args.n, meta["seq_len"], temperature=args.temperature, top_k=args.top_k, generator=gen)
    for words in vocab.decode(ids.cpu()):
        print(" ".join(words))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from genplay.generative.text.bleu import ReferenceBLEU
    from genplay.generative.text.corpus import load_text, split_corpus, text_scores
    from genplay.generative.text.models import sample

    check_device(args.device)
    device = select_device(args.device)
    model, vocab, meta = load_model(args.run, device)
    _, test_s = split_corpus(load_text(args.corpus), meta["seq_len"])
    if not test_s:
        raise GenplayError(f"{args.corpus}: sentences: expected held-out sentences of 3-{meta['seq_len'] - 1} words")
    bleu = ReferenceBLEU(test_s, max_n=5)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    rows = []
    for temp in args.temperatures:
        ids = sample(model, args.n_samples, meta["seq_len"], temperature=temp, generator=gen)
        rows.append({"temperature": temp, **text_scores(vocab.decode(ids.cpu()), bleu)})
    print(json.dumps({"model": str(args.run), "corpus": args.corpus, "results": rows}))


def add_subparser(subparsers) -> None:
    """Register ``text train|sample|evaluate`` on the main parser's subparsers."""
    from genplay.cli_args import DefaultsHelpFormatter, add_dataclass_args, float_in, int_at_least, seed_int

    t = subparsers.add_parser("text", help="text generation: tempered MLE, SeqGAN").add_subparsers(
        dest="action", required=True
    )
    fmt = DefaultsHelpFormatter
    tr = t.add_parser("train", help="MLE (then SeqGAN with --adv-steps) on a text corpus", formatter_class=fmt)
    tr.add_argument("--corpus", default=None, help="'pydoc' (in Python) or a UTF-8 text file (default: pydoc)")
    tr.add_argument("--out", required=True, help="run directory (model.pt, checkpoint.pt, vocab.json, config.json)")
    tr.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt (an error if there is none)")
    tr.add_argument("--force", action="store_true", help="start over in an OUT that already holds a run")
    helps = {
        "seq_len": "tokens per sequence, <eos> padding included",
        "min_count": "words seen fewer times become <unk>",
        "mle_epochs": "MLE pretraining epochs",
        "adv_steps": "SeqGAN policy-gradient steps after MLE (0: MLE alone, sampled with --temperature)",
        "disc_pretrain_steps": "discriminator steps before the adversarial ones",
        "checkpoint_every": "adversarial steps between checkpoints (one after every MLE epoch too)",
    }
    for name, (default, low, high) in SETTINGS.items():
        what = f"{helps[name]}; {low}..{high} (default: {default}; on --resume: the checkpoint's)"
        tr.add_argument(_flag(name), type=int, default=None, help=what)
    tr.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    tr.add_argument("--quiet", action="store_true", help="no log or progress lines")
    add_dataclass_args(tr, TextGANConfig)
    tr.set_defaults(func=cmd_train)

    run_help = "a 'genplay text train' run directory (--model: the deprecated spelling)"
    temperature = float_in(1e-3, 100.0)
    sa = t.add_parser("sample", help="print sentences from a trained model", formatter_class=fmt)
    sa.add_argument("--run", "--model", dest="run", required=True, help=run_help)
    sa.add_argument("--n", type=int_at_least(1, MAX_SAMPLES), default=10, help="sentences to print")
    sa.add_argument(
        "--temperature",
        type=temperature,
        default=1.0,
        help="softmax temperature, in [0.001, 100) (below 1: quality over diversity)",
    )
    sa.add_argument("--top-k", type=int_at_least(0), default=0, help="sample from the k most likely tokens (0: all)")
    sa.add_argument("--seed", type=seed_int, default=0)
    sa.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    sa.set_defaults(func=cmd_sample)

    ev = t.add_parser(
        "evaluate", help="BLEU-2..5 against held-out text and self-BLEU, per temperature (JSON)", formatter_class=fmt
    )
    ev.add_argument("--run", "--model", dest="run", required=True, help=run_help)
    ev.add_argument("--corpus", default="pydoc", help="'pydoc' or a UTF-8 text file (held-out sentences)")
    ev.add_argument("--n-samples", type=int_at_least(1, MAX_SAMPLES), default=500, help="sentences per temperature")
    ev.add_argument("--temperatures", type=temperature, nargs="+", default=[1.0], help="each in [0.001, 100)")
    ev.add_argument("--seed", type=seed_int, default=0)
    ev.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    ev.set_defaults(func=cmd_evaluate)
