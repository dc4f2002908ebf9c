"""BLEU against a large reference set, and self-BLEU, computed as nltk's ``sentence_bleu`` does.

Texygen-style evaluation (Zhu et al. 2018) scores every generated sentence against *all*
held-out sentences as references. nltk's ``sentence_bleu`` recounts every reference's n-grams
for every hypothesis (hours for thousands of references), so the clipped counts are
precomputed here once: the numbers equal nltk's ``sentence_bleu`` with uniform weights and
``SmoothingFunction().method1`` (the tests check this against nltk itself).
Self-BLEU (each sample against all the others) keeps the two largest counts of every n-gram
so that a sentence is never its own reference.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence

Sentence = Sequence[str]
EPSILON = 0.1  # nltk SmoothingFunction().method1


def _ngrams(sent: Sentence, n: int) -> Counter:
    return Counter(tuple(sent[i : i + n]) for i in range(len(sent) - n + 1))


def _bleu_from_counts(hyp: Sentence, clipped: Sequence[int], totals: Sequence[int], ref_len: int) -> float:
    """Geometric mean of smoothed modified precisions times the brevity penalty (nltk's formulae)."""
    if len(hyp) == 0 or clipped[0] == 0:
        return 0.0
    log_p = 0.0
    for num, den in zip(clipped, totals):
        den = max(den, 1)  # nltk: a hypothesis shorter than n has precision 0/1 (then smoothed)
        log_p += math.log((num if num > 0 else EPSILON) / den)
    bp = 1.0 if len(hyp) > ref_len else math.exp(1.0 - ref_len / len(hyp))
    return bp * math.exp(log_p / len(clipped))


def _closest_ref_len(sorted_lens: list[int], hyp_len: int) -> int:
    """nltk's ``closest_ref_length``: nearest length, the shorter one on ties."""
    i = bisect.bisect_left(sorted_lens, hyp_len)
    cands = sorted_lens[max(i - 1, 0) : i + 1]
    return min(cands, key=lambda r: (abs(r - hyp_len), r))


class ReferenceBLEU:
    """BLEU-n of hypotheses against one fixed (large) reference set, precomputed once."""

    def __init__(self, references: Sequence[Sentence], max_n: int = 5) -> None:
        self.max_n = max_n
        self.max_counts: list[dict[tuple, int]] = []
        for n in range(1, max_n + 1):
            best: dict[tuple, int] = {}
            for ref in references:
                for g, c in _ngrams(ref, n).items():
                    if c > best.get(g, 0):
                        best[g] = c
            self.max_counts.append(best)
        self.ref_lens = sorted(len(r) for r in references)

    def sentence(self, hyp: Sentence, n: int) -> float:
        clipped, totals = [], []
        for k in range(1, n + 1):
            counts = _ngrams(hyp, k)
            best = self.max_counts[k - 1]
            clipped.append(sum(min(c, best.get(g, 0)) for g, c in counts.items()))
            totals.append(sum(counts.values()))
        return _bleu_from_counts(hyp, clipped, totals, _closest_ref_len(self.ref_lens, len(hyp)))

    def corpus_mean(self, hyps: Sequence[Sentence], n: int) -> float:
        """Mean sentence BLEU-n over ``hyps`` (Texygen's BLEU)."""
        return sum(self.sentence(h, n) for h in hyps) / max(len(hyps), 1)


def self_bleu(hyps: Sequence[Sentence], n: int) -> float:
    """Mean BLEU-n of each hypothesis against all the others (Zhu et al. 2018; lower = more diverse)."""
    if len(hyps) < 2:
        return 0.0
    counts = [[_ngrams(h, k) for k in range(1, n + 1)] for h in hyps]
    top: list[dict[tuple, tuple[int, int, int]]] = [{} for _ in range(n)]  # gram -> (max1, owner, max2)
    for i, per_n in enumerate(counts):
        for k, cnt in enumerate(per_n):
            table = top[k]
            for g, c in cnt.items():
                m1, owner, m2 = table.get(g, (0, -1, 0))
                if c > m1:
                    table[g] = (c, i, m1)
                elif c > m2:
                    table[g] = (m1, owner, c)
    lens = sorted(len(h) for h in hyps)
    total = 0.0
    for i, (hyp, per_n) in enumerate(zip(hyps, counts)):
        clipped, totals = [], []
        for k, cnt in enumerate(per_n):
            s = 0
            for g, c in cnt.items():
                m1, owner, m2 = top[k][g]
                s += min(c, m2 if owner == i else m1)
            clipped.append(s)
            totals.append(sum(cnt.values()))
        others = list(lens)
        others.pop(bisect.bisect_left(others, len(hyp)))
        total += _bleu_from_counts(hyp, clipped, totals, _closest_ref_len(others, len(hyp)))
    return total / len(hyps)
