"""``genplay text train|sample|evaluate``: the text modality's subcommands.

A model directory holds ``model.pt`` (tensors only, read with ``weights_only=True``),
``vocab.json`` and ``config.json`` (plain JSON), written atomically.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from genplay.errors import GenplayError
from genplay.generative.core.utils import atomic_write, seed_everything, select_device
from genplay.generative.text.models import TokenLM
from genplay.generative.text.seqgan import TextGANConfig


def save_model(out: Path, gan, vocab, meta: dict) -> None:
    """Write the generator's weights, the vocabulary and the run's metadata into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "model.pt", lambda p: torch.save(gan.state_dict(), p))
    atomic_write(out / "vocab.json", vocab.save)
    atomic_write(out / "config.json", lambda p: Path(p).write_text(json.dumps(meta, indent=1), encoding="utf-8"))


def load_model(model_dir: str | Path, device: torch.device) -> tuple[TokenLM, object, dict]:
    """Generator, vocabulary and metadata of a ``genplay text train`` directory; bad files raise GenplayError."""
    from genplay.generative.text.corpus import Vocab

    d = Path(model_dir)
    path = d / "model.pt"
    if not path.is_file():
        raise GenplayError(f"{path}: file: expected a model written by 'genplay text train' (not found)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        shape = state["generator_shape"]
        model = TokenLM(
            vocab_size=int(shape["vocab_size"]),
            emb_dim=int(shape["emb_dim"]),
            hidden_dim=int(shape["hidden_dim"]),
            start_token=int(shape["start_token"]),
        )
        model.load_state_dict(state["generator"])
    except GenplayError:
        raise
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise GenplayError(f"{path}: generator: expected a genplay text model ({exc.__class__.__name__})") from None
    vocab = Vocab.load(d / "vocab.json")
    if len(vocab) != model.vocab_size:
        raise GenplayError(f"{d / 'vocab.json'}: tokens: expected {model.vocab_size} tokens, found {len(vocab)}")
    return model.to(device).eval(), vocab, {"seq_len": int(shape["seq_len"])}


def cmd_train(args: argparse.Namespace) -> None:
    from genplay.generative.text.corpus import BOS, Vocab, load_text, split_corpus
    from genplay.generative.text.seqgan import SeqGAN

    names = [f.name for f in dataclasses.fields(TextGANConfig)]
    try:
        config = TextGANConfig(**{n: getattr(args, n) for n in names if getattr(args, n, None) is not None})
    except ValueError as exc:  # config messages read "<field>: <expected>"; name the flag
        field, _, expected = str(exc).partition(":")
        raise GenplayError(f"--{field.replace('_', '-')}: {expected.strip()}") from None
    if args.seq_len < 5:
        raise GenplayError(f"--seq-len: expected an integer >= 5, got {args.seq_len}")
    for flag in ("mle_epochs", "adv_steps", "disc_pretrain_steps", "min_count"):
        if getattr(args, flag) < (1 if flag == "min_count" else 0):
            lowest = 1 if flag == "min_count" else 0
            raise GenplayError(
                f"--{flag.replace('_', '-')}: expected an integer >= {lowest}, got {getattr(args, flag)}"
            )
    seed_everything(config.seed)
    train_s, _ = split_corpus(load_text(args.corpus), args.seq_len)
    if len(train_s) < 10:
        raise GenplayError(f"{args.corpus}: sentences: expected at least 10 sentences of 3-{args.seq_len - 1} words")
    vocab = Vocab.build(train_s, min_count=args.min_count)
    device = select_device(args.device)
    gan = SeqGAN(
        data=vocab.encode(train_s, args.seq_len), vocab_size=len(vocab), config=config, device=device, start_token=BOS
    )
    history, t0 = [], time.monotonic()
    for epoch in range(1, args.mle_epochs + 1):
        history.append({"phase": "mle", "epoch": epoch, "train_nll": gan.mle_epoch(), "t": time.monotonic() - t0})
        if not args.quiet:
            print(json.dumps(history[-1]), flush=True)
    if args.adv_steps:
        gan.pretrain_discriminator(args.disc_pretrain_steps)
    for step in range(1, args.adv_steps + 1):
        history.append({"phase": "adv", "step": step, **gan.adversarial_step(), "t": time.monotonic() - t0})
        if not args.quiet and step % 10 == 0:
            print(json.dumps(history[-1]), flush=True)
    out = Path(args.out)
    meta = {"corpus": args.corpus, "seq_len": args.seq_len, "config": dataclasses.asdict(config), "history": history}
    save_model(out, gan, vocab, meta)
    print(f"trained {args.mle_epochs} MLE epochs and {args.adv_steps} adversarial steps; model in {out}")


def cmd_sample(args: argparse.Namespace) -> None:
    from genplay.generative.text.models import sample

    if args.n < 1:
        raise GenplayError(f"--n: expected an integer >= 1, got {args.n}")
    device = select_device(args.device)
    model, vocab, meta = load_model(args.model, device)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    ids = sample(model, args.n, meta["seq_len"], temperature=args.temperature, top_k=args.top_k, generator=gen)
    for words in vocab.decode(ids.cpu()):
        print(" ".join(words))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from genplay.generative.text.bleu import ReferenceBLEU
    from genplay.generative.text.corpus import load_text, split_corpus, text_scores
    from genplay.generative.text.models import sample

    device = select_device(args.device)
    model, vocab, meta = load_model(args.model, device)
    _, test_s = split_corpus(load_text(args.corpus), meta["seq_len"])
    if not test_s:
        raise GenplayError(f"{args.corpus}: sentences: expected held-out sentences of 3-{meta['seq_len'] - 1} words")
    bleu = ReferenceBLEU(test_s, max_n=5)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    rows = []
    for temp in args.temperatures:
        ids = sample(model, args.n_samples, meta["seq_len"], temperature=temp, generator=gen)
        rows.append({"temperature": temp, **text_scores(vocab.decode(ids.cpu()), bleu)})
    print(json.dumps({"model": str(args.model), "corpus": args.corpus, "results": rows}))


def add_subparser(subparsers) -> None:
    """Register ``text train|sample|evaluate`` on the main parser's subparsers."""
    from genplay.cli_args import add_dataclass_args

    t = subparsers.add_parser("text", help="adversarial text generation (SeqGAN)").add_subparsers(
        dest="action", required=True
    )
    fmt = argparse.ArgumentDefaultsHelpFormatter
    tr = t.add_parser("train", help="MLE then SeqGAN on a text corpus", formatter_class=fmt)
    tr.add_argument("--corpus", default="pydoc", help="'pydoc' (shipped with Python) or a UTF-8 text file")
    tr.add_argument("--out", required=True, help="model directory")
    tr.add_argument("--seq-len", type=int, default=24, help="tokens per sequence, <eos> padding included")
    tr.add_argument("--min-count", type=int, default=2, help="words seen fewer times become <unk>")
    tr.add_argument("--mle-epochs", type=int, default=20)
    tr.add_argument("--adv-steps", type=int, default=100, help="generator policy-gradient steps")
    tr.add_argument("--disc-pretrain-steps", type=int, default=200)
    tr.add_argument("--device", default="auto")
    tr.add_argument("--quiet", action="store_true")
    add_dataclass_args(tr, TextGANConfig)
    tr.set_defaults(func=cmd_train)

    sa = t.add_parser("sample", help="print sentences from a trained model")
    sa.add_argument("--model", required=True, help="a 'genplay text train' directory")
    sa.add_argument("--n", type=int, default=10)
    sa.add_argument("--temperature", type=float, default=1.0)
    sa.add_argument("--top-k", type=int, default=0, help="sample from the k most likely tokens (0: all)")
    sa.add_argument("--seed", type=int, default=0)
    sa.add_argument("--device", default="auto")
    sa.set_defaults(func=cmd_sample)

    ev = t.add_parser("evaluate", help="BLEU-2..5 against held-out text and self-BLEU, per temperature (JSON)")
    ev.add_argument("--model", required=True)
    ev.add_argument("--corpus", default="pydoc")
    ev.add_argument("--n-samples", type=int, default=500)
    ev.add_argument("--temperatures", type=float, nargs="+", default=[1.0])
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="auto")
    ev.set_defaults(func=cmd_evaluate)
