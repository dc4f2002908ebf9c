"""Real text: word-level sentences of a corpus (default ``pydoc_data.topics``, shipped with Python).

Sentences are lower-cased, split into words and punctuation, kept when they fit the sequence
length, and padded with ``<eos>``; every 10th sentence is held out as BLEU reference text.
Token 0 is ``<bos>`` (the generator's start token), 1 ``<eos>``, 2 ``<unk>``.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from genplay.errors import GenplayError
from genplay.generative.text.bleu import ReferenceBLEU, self_bleu
from genplay.generative.text.seqgan import SeqGAN, TextGANConfig

SPECIALS = ("<bos>", "<eos>", "<unk>")
BOS, EOS, UNK = 0, 1, 2
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
_WORD = re.compile(r"[a-z0-9_']+|[^\sa-z0-9_']")


MAX_CORPUS_BYTES = 64 * 2**20  # 64 MB: words, vocabulary and encoded sentences fit a 24 GB machine many times


def load_text(source: str) -> str:
    """``"pydoc"`` = the pydoc topics shipped with Python (about 465k characters); else a UTF-8 file.

    Only regular files of at most ``MAX_CORPUS_BYTES`` are read (a device such as /dev/zero never ends).
    """
    if source == "pydoc":
        from pydoc_data import topics

        return "\n\n".join(topics.topics[k] for k in sorted(topics.topics))
    path = Path(source)
    if path.exists() and not path.is_file():
        raise GenplayError(f"{source}: corpus: expected a regular UTF-8 text file, not a directory or device")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CORPUS_BYTES + 1)
        if len(data) > MAX_CORPUS_BYTES:
            raise GenplayError(
                f"{source}: corpus: larger than {MAX_CORPUS_BYTES // 2**20} MB (the limit for a 2-core, 24 GB machine)"
            )
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.__class__.__name__
        raise GenplayError(f"{source}: corpus: expected a readable UTF-8 text file ({reason})") from None


def sentences(text: str, max_len: int, min_len: int = 4) -> list[list[str]]:
    """Word/punctuation token lists of the sentences with ``min_len <= length <= max_len``."""
    out = []
    for chunk in _SENTENCE_END.split(text.lower()):
        words = _WORD.findall(" ".join(chunk.split()))
        if min_len <= len(words) <= max_len:
            out.append(words)
    return out


@dataclass(frozen=True)
class Vocab:
    """Token strings by id; ids 0-2 are ``<bos>``, ``<eos>``, ``<unk>``."""

    tokens: tuple[str, ...]

    @classmethod
    def build(cls, sents: Sequence[Sequence[str]], min_count: int = 2) -> Vocab:
        counts = Counter(w for s in sents for w in s)
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(SPECIALS + tuple(w for w in words if w not in SPECIALS))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, sents: Sequence[Sequence[str]], seq_len: int) -> torch.Tensor:
        """``(N, seq_len)`` ids, each sentence followed by ``<eos>`` up to the length."""
        index = {w: i for i, w in enumerate(self.tokens)}
        out = torch.full((len(sents), seq_len), EOS, dtype=torch.long)
        for row, s in enumerate(sents):
            ids = [index.get(w, UNK) for w in s[: seq_len - 1]]
            out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out

    def decode(self, ids: torch.Tensor) -> list[list[str]]:
        """Token lists, each cut at its first ``<eos>``."""
        out = []
        for row in ids.tolist():
            words = []
            for i in row:
                if i == EOS:
                    break
                words.append(self.tokens[i])
            out.append(words)
        return out

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"tokens": list(self.tokens)}), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        try:
            tokens = json.loads(Path(path).read_text(encoding="utf-8"))["tokens"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GenplayError(f"{path}: tokens: expected a JSON vocabulary file ({exc.__class__.__name__})") from None
        if not isinstance(tokens, list) or tuple(tokens[:3]) != SPECIALS:
            raise GenplayError(f"{path}: tokens: expected a list starting with {list(SPECIALS)}")
        return cls(tuple(str(t) for t in tokens))


def split_corpus(text: str, seq_len: int) -> tuple[list[list[str]], list[list[str]]]:
    """Every 10th sentence is held out (deterministic, no shuffling needed to reproduce)."""
    sents = sentences(text, max_len=seq_len - 1)
    return [s for i, s in enumerate(sents) if i % 10], [s for i, s in enumerate(sents) if i % 10 == 0]


def text_scores(generated: Sequence[Sequence[str]], bleu: ReferenceBLEU, n_self: int = 500) -> dict[str, float]:
    """BLEU-2..5 against the references and self-BLEU-2..5 of the first ``n_self`` samples."""
    out: dict[str, float] = {}
    for n in range(2, bleu.max_n + 1):
        out[f"bleu{n}"] = bleu.corpus_mean(generated, n)
    for n in range(2, bleu.max_n + 1):
        out[f"self_bleu{n}"] = self_bleu(generated[:n_self], n)
    return out


def run_pydoc(
    *,
    config: TextGANConfig,
    minutes: float,
    source: str = "pydoc",
    seq_len: int = 24,
    mle_fraction: float = 0.5,
    disc_pretrain_steps: int = 200,
    temperatures: Sequence[float] = (0.8, 0.9, 1.0, 1.1),
    n_samples: int = 1000,
    device: str | torch.device = "cpu",
    log: Callable[[dict], None] = lambda row: None,
) -> dict:
    """MLE then SeqGAN on a corpus; BLEU / self-BLEU of both models at each temperature."""
    t0 = time.monotonic()
    train_s, test_s = split_corpus(load_text(source), seq_len)
    vocab = Vocab.build(train_s)
    data = vocab.encode(train_s, seq_len)
    bleu = ReferenceBLEU(test_s, max_n=5)
    gan = SeqGAN(data=data, vocab_size=len(vocab), config=config, device=device, start_token=BOS)
    torch.manual_seed(config.seed)  # the run seeds what it samples with (constructors leave global state alone)
    log({"phase": "data", "train": len(train_s), "test": len(test_s), "vocab": len(vocab)})
    deadline, epochs = t0 + 60.0 * minutes * mle_fraction, 0
    while time.monotonic() < deadline:
        loss = gan.mle_epoch(deadline=deadline)
        epochs += 1
        log({"phase": "mle", "epoch": epochs, "train_nll": loss})

    def sweep(name: str) -> list[dict]:
        rows = []
        for temp in temperatures:
            gen = vocab.decode(gan.sample(n_samples, temperature=temp).cpu())
            rows.append({"model": name, "temperature": temp, **text_scores(gen, bleu)})
            log(rows[-1])
        return rows

    curve = sweep("mle")
    gan.pretrain_discriminator(disc_pretrain_steps)
    steps, deadline = 0, t0 + 60.0 * minutes
    while time.monotonic() < deadline:
        stats = gan.adversarial_step()
        steps += 1
        if steps % 10 == 0:
            log({"phase": "adv", "step": steps, **stats})
    curve += sweep("seqgan")
    at_1 = {r["model"]: r for r in curve if r["temperature"] == 1.0}
    examples = vocab.decode(gan.sample(5).cpu())
    return {
        "temperature": 1.0,
        "bleu": {m: {k: v for k, v in r.items() if k.startswith("bleu")} for m, r in at_1.items()},
        "self_bleu": {m: {k: v for k, v in r.items() if k.startswith("self_bleu")} for m, r in at_1.items()},
        "curve": curve,
        "mle_epochs": epochs,
        "adv_steps": steps,
        "vocab_size": len(vocab),
        "n_train": len(train_s),
        "n_test": len(test_s),
        "examples": [" ".join(s) for s in examples],
    }
