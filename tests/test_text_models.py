"""Text modality units: oracle determinism, NLL maths, sampling, rollouts, BLEU (fast, tiny models)."""

from __future__ import annotations

import math

import pytest
import torch
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from genplay.generative.text.bleu import ReferenceBLEU, self_bleu
from genplay.generative.text.models import TokenLM, make_oracle, mean_nll, sample, sample_logits, token_nll
from genplay.generative.text.oracle import OracleTask, oracle_data
from genplay.generative.text.seqgan import rollout_returns


def test_oracle_is_determined_by_its_seed():
    a, b, c = (make_oracle(seed=s, vocab_size=50, emb_dim=8, hidden_dim=8) for s in (3, 3, 4))
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb)
        assert pa.shape == pc.shape
    assert not torch.equal(a.out.weight, c.out.weight)
    assert float(a.out.weight.std()) == pytest.approx(1.0, abs=0.1)  # SeqGAN: N(0, 1) parameters
    assert torch.count_nonzero(a.lstm.bias_hh_l0) == 0  # one bias per gate, as SeqGAN's cell
    task = OracleTask(vocab_size=50, n_train=30, n_test=10)
    _, train1, test1 = oracle_data(task)
    _, train2, test2 = oracle_data(task)
    assert torch.equal(train1, train2) and torch.equal(test1, test2)
    assert train1.shape == (30, 20) and test1.shape == (10, 20)
    _, train3, _ = oracle_data(OracleTask(oracle_seed=1, vocab_size=50, n_train=30, n_test=10))
    assert not torch.equal(train1, train3)


def test_nll_of_a_known_model():
    # Output weights 0: p(x_t | prefix) = softmax(b) whatever the prefix, so the NLL is known.
    m = TokenLM(vocab_size=3, emb_dim=2, hidden_dim=2)
    with torch.no_grad():
        m.out.weight.zero_()
        m.out.bias.copy_(torch.tensor([0.0, math.log(2.0), math.log(5.0)]))  # p = 1/8, 2/8, 5/8
    tokens = torch.tensor([[0, 1, 2, 2], [2, 2, 2, 2]])
    expected = -torch.log(torch.tensor([[1, 2, 5, 5], [5, 5, 5, 5]]) / 8.0)
    assert torch.allclose(token_nll(m, tokens), expected, atol=1e-6)
    assert mean_nll(m, tokens, batch_size=1) == pytest.approx(float(expected.mean()), abs=1e-6)


def test_teacher_forced_nll_equals_the_stepwise_chain_rule():
    m = make_oracle(seed=0, vocab_size=20, emb_dim=4, hidden_dim=4)
    tokens = sample(m, 5, 6, generator=torch.Generator().manual_seed(0))
    state, token, nll = None, torch.zeros(5, dtype=torch.long), torch.zeros(5, 6)
    for t in range(6):
        logits, state = m.step(token, state)
        nll[:, t] = -torch.log_softmax(logits, -1).gather(1, tokens[:, t : t + 1]).squeeze(1)
        token = tokens[:, t]
    assert torch.allclose(token_nll(m, tokens), nll, atol=1e-5)


def test_sampling_shapes_temperature_and_top_k():
    m = make_oracle(seed=0, vocab_size=30, emb_dim=4, hidden_dim=4)
    x = sample(m, 7, 5, generator=torch.Generator().manual_seed(0), batch_size=3)
    assert x.shape == (7, 5) and x.dtype == torch.long and int(x.min()) >= 0 and int(x.max()) < 30
    greedy = sample(m, 4, 5, temperature=0.0)
    assert torch.equal(greedy, sample(m, 4, 5, top_k=1))  # top-1 sampling is greedy decoding
    assert (greedy == greedy[0]).all()
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0]]).repeat(2000, 1)
    drawn = sample_logits(logits, top_k=2, generator=torch.Generator().manual_seed(0))
    assert set(drawn.tolist()) == {2, 3}
    freq = torch.bincount(sample_logits(logits, generator=torch.Generator().manual_seed(1)), minlength=4) / 2000
    assert torch.allclose(freq, torch.softmax(logits[0], 0), atol=0.03)  # inverse-CDF sampling is exact


def test_rollouts_keep_prefixes_and_average_rewards():
    m = make_oracle(seed=0, vocab_size=10, emb_dim=4, hidden_dim=4)
    tokens = sample(m, 3, 5, generator=torch.Generator().manual_seed(0))
    seen: list[torch.Tensor] = []

    def disc(seqs: torch.Tensor) -> torch.Tensor:
        seen.append(seqs.clone())
        return (seqs == 0).float().sum(1)  # logit = number of zeros

    q = rollout_returns(m, disc, tokens, n_rollouts=4, generator=torch.Generator().manual_seed(0))
    assert q.shape == (3, 5)
    assert torch.equal(q[:, -1], (tokens == 0).float().sum(1))  # the full sequence's own reward
    completions = torch.stack(seen[1:5])  # seen[0] is the full batch; then (R, (T-1) * B, T) by (prefix, row)
    for t in range(1, 5):
        rows = completions[:, (t - 1) * 3 : t * 3]
        assert torch.equal(rows[..., :t], tokens[:, :t].expand(4, -1, -1))  # prefix kept
        assert torch.allclose(q[:, t - 1], (rows == 0).float().sum(-1).mean(0))


def test_bleu_equals_nltk():
    refs = [s.split() for s in ["the cat sat on the mat", "a dog sat on a log", "the dog is on the mat ."]]
    hyps = [s.split() for s in ["the cat is on the mat", "a cat sat", "dog", "on the mat the cat sat on a log"]]
    fast, smooth = ReferenceBLEU(refs, max_n=5), SmoothingFunction().method1
    for n in (2, 3, 5):
        w = (1.0 / n,) * n
        for h in hyps:
            assert fast.sentence(h, n) == pytest.approx(sentence_bleu(refs, h, w, smoothing_function=smooth), abs=1e-9)
        pool = refs + hyps
        expect = sum(
            sentence_bleu(pool[:i] + pool[i + 1 :], h, w, smoothing_function=smooth) for i, h in enumerate(pool)
        ) / len(pool)
        assert self_bleu(pool, n) == pytest.approx(expect, abs=1e-9)


def test_reinforce_variant_gives_every_token_the_sequence_reward():
    m = make_oracle(seed=0, vocab_size=10, emb_dim=4, hidden_dim=4)
    tokens = sample(m, 3, 5, generator=torch.Generator().manual_seed(0))
    q = rollout_returns(m, lambda s: (s == 0).float().sum(1), tokens, n_rollouts=0, reward_form="positive")
    assert torch.allclose(q, torch.nn.functional.softplus((tokens == 0).float().sum(1, keepdim=True)).expand(3, 5))
