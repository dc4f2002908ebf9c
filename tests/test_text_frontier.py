"""The oracle frontier's pieces: matched-NLL_test gaps, early-stopped MLE, the regularised discriminator."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from genplay.generative.text.frontier import frontier, gap_at_matched_nll_test, held_out_accuracies, train_mle
from genplay.generative.text.oracle import OracleTask, oracle_data
from genplay.generative.text.seqgan import SeqGAN, TextGANConfig

TASK = OracleTask(vocab_size=40, seq_len=6, n_train=300, n_test=100)

# tempered MLE: NLL_test falls to its least at temperature 1.0, then rises again (the high branch)
MLE = [
    {"temperature": 0.8, "nll_test": 3.0, "nll_oracle": 1.0},
    {"temperature": 0.9, "nll_test": 2.5, "nll_oracle": 1.5},
    {"temperature": 1.0, "nll_test": 2.0, "nll_oracle": 2.0},
    {"temperature": 1.2, "nll_test": 2.6, "nll_oracle": 3.0},
]


def test_gap_interpolates_the_low_temperature_branch_only():
    points = [
        {"temperature": 1.0, "nll_test": 2.25, "nll_oracle": 1.5},  # MLE at 2.25 would score 1.75: better by 0.25
        {"temperature": 1.0, "nll_test": 2.8, "nll_oracle": 1.4},  # MLE's low branch: 1.2 here (not 3.0's branch)
        {"temperature": 1.0, "nll_test": 1.9, "nll_oracle": 1.0},  # more diverse than any MLE point: no match
        {"temperature": 1.0, "nll_test": 3.0, "nll_oracle": 1.0},  # the branch's end point itself
    ]
    gaps = gap_at_matched_nll_test(MLE, points)
    assert gaps[0] == pytest.approx(0.25) and gaps[1] == pytest.approx(-0.2)
    assert gaps[2] is None and gaps[3] == pytest.approx(0.0)
    assert gap_at_matched_nll_test(MLE, MLE[:3]) == pytest.approx([0.0, 0.0, 0.0])  # MLE matches itself


def test_mle_stops_early_and_returns_its_best_epoch():
    _, data, _ = oracle_data(TASK)
    train, valid = data[:100], data[200:]  # 100 sequences: overfit within a few epochs
    config = TextGANConfig(emb_dim=16, hidden_dim=16, mle_lr=0.1, batch_size=16, seed=0)
    rows: list[dict] = []
    res = train_mle(train=train, valid=valid, vocab_size=40, config=config, max_epochs=40, patience=2, log=rows.append)
    valid_nlls = [r["valid_nll"] for r in rows]
    assert len(rows) < 40 and res.epochs == 1 + valid_nlls.index(min(valid_nlls))  # stopped by patience
    assert len(rows) - res.epochs == 2 and res.valid_nll == pytest.approx(min(valid_nlls))
    from genplay.generative.text.models import mean_nll

    assert mean_nll(res.generator, valid) == pytest.approx(res.valid_nll)  # the best weights, not the last


def test_frontier_and_discriminator_accuracies_have_their_fields():
    oracle, train, test = oracle_data(TASK)
    gan = SeqGAN(data=train, vocab_size=40, config=TextGANConfig(emb_dim=8, hidden_dim=8, seed=0))
    points = frontier(gan, oracle, test, (0.5, 1.0), n_eval=50)
    assert [p["temperature"] for p in points] == [0.5, 1.0] and points[0]["nll_oracle"] < points[1]["nll_oracle"]
    acc = held_out_accuracies(gan, test, n_eval=50)
    assert set(acc) == {"acc_train_real", "acc_test_real", "acc_fresh_fake"}
    assert all(0.0 <= v <= 1.0 for v in acc.values())


def test_discriminator_weight_decay_shrinks_its_weights():
    _, train, _ = oracle_data(TASK)

    def weight_norm(decay: float) -> float:
        cfg = TextGANConfig(emb_dim=8, hidden_dim=8, disc_emb_dim=8, disc_filters=4, disc_lr=0.01, seed=0)
        gan = SeqGAN(data=train, vocab_size=40, config=dataclasses.replace(cfg, disc_weight_decay=decay))
        gan.pretrain_discriminator(10)
        return float(torch.cat([p.detach().flatten() for p in gan.discriminator.parameters()]).norm())

    # fails with the decay ignored (Adam for every value): the two norms are then equal
    assert weight_norm(2.0) < 0.9 * weight_norm(0.0)
