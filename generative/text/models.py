"""Token-level LSTM language model: the generator (policy) and SeqGAN's oracle.

The generator of a sequence GAN is a policy whose state is the prefix and whose action is
the next token; the discriminator's reward makes this the same problem as GAIL. One class
serves as generator and as oracle, since SeqGAN's oracle is the same LSTM with random
N(0, 1) parameters.

What matches SeqGAN's reference code (``target_lstm.py`` / ``generator.py``, Yu et al. 2017):
a fixed start token (id 0, also an ordinary vocabulary token) is the first input, the LSTM
starts from zero states, the LSTM has one bias per gate (torch's second bias ``bias_hh`` is
zeroed for the oracle), logits are ``h W_o + b_o``, and the NLL is the per-token mean over all
positions of all sequences. torch's ``nn.LSTM`` computes exactly SeqGAN's cell equations, so
we use it rather than a hand-written cell.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]


class TokenLM(nn.Module):
    """Embedding -> 1-layer LSTM -> vocabulary logits; ``(B, T)`` int64 tokens in, logits out."""

    def __init__(self, *, vocab_size: int, emb_dim: int = 32, hidden_dim: int = 32, start_token: int = 0) -> None:
        super().__init__()
        self.vocab_size, self.emb_dim, self.hidden_dim, self.start_token = vocab_size, emb_dim, hidden_dim, start_token
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.out = nn.Linear(hidden_dim, vocab_size)

    def init_normal_(self, std: float) -> TokenLM:
        """Every parameter ~ N(0, std), one bias per gate (SeqGAN: std 1 for the oracle, 0.1 for G)."""
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, std)
            self.lstm.bias_hh_l0.zero_()
        return self

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits ``(B, T, V)``: position t predicts ``tokens[:, t]`` from the prefix."""
        start = torch.full_like(tokens[:, :1], self.start_token)
        inputs = torch.cat([start, tokens[:, :-1]], dim=1)
        hidden, _ = self.lstm(self.embedding(inputs))
        return self.out(hidden)

    def step(self, token: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """One step: ``(N,)`` input tokens -> ``(N, V)`` logits of the next token, new state."""
        hidden, state = self.lstm(self.embedding(token).unsqueeze(1), state)
        return self.out(hidden.squeeze(1)), state

    def prefix_states(self, tokens: torch.Tensor) -> tuple[State, torch.Tensor]:
        """States after reading ``start, x_1..x_t`` for every prefix length t = 1..T-1.

        Returns ``(h, c)`` each ``(B, T-1, H)`` and the logits of ``x_{t+1}``, ``(B, T-1, V)``.
        ``nn.LSTM`` returns only the last cell state, so this steps through the (short) sequence.
        """
        start = torch.full_like(tokens[:, :1], self.start_token)
        inputs = torch.cat([start, tokens[:, :-1]], dim=1)
        state: State | None = None
        hs, cs, logits = [], [], []
        for k in range(tokens.shape[1]):
            logit, state = self.step(inputs[:, k], state)
            if k >= 1:  # has read start, x_1..x_k: prefix length k
                hs.append(state[0][0])
                cs.append(state[1][0])
                logits.append(logit)
        return (torch.stack(hs, 1), torch.stack(cs, 1)), torch.stack(logits, 1)


def sample_logits(
    logits: torch.Tensor, *, temperature: float = 1.0, top_k: int = 0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One token per row of ``(N, V)`` logits, at ``temperature``, from the ``top_k`` best if > 0."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    # Inverse-CDF sampling: on CPU torch.multinomial over 5,000 classes is ~10x slower than cumsum + searchsorted.
    cdf = F.softmax(logits, dim=-1).cumsum(dim=-1)
    u = torch.rand(len(cdf), 1, device=cdf.device, generator=generator) * cdf[:, -1:]
    return torch.searchsorted(cdf, u).squeeze(1).clamp_(max=logits.shape[-1] - 1)


@torch.no_grad()
def sample(
    model: TokenLM,
    n: int,
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    generator: torch.Generator | None = None,
    batch_size: int = 1000,
) -> torch.Tensor:
    """``(n, length)`` int64 sequences sampled autoregressively from the start token, in batches."""
    device = next(model.parameters()).device
    out = []
    for lo in range(0, n, batch_size):
        m = min(batch_size, n - lo)
        token = torch.full((m,), model.start_token, dtype=torch.long, device=device)
        state: State | None = None
        seq = []
        for _ in range(length):
            logits, state = model.step(token, state)
            token = sample_logits(logits, temperature=temperature, top_k=top_k, generator=generator)
            seq.append(token)
        out.append(torch.stack(seq, 1))
    return torch.cat(out)


def token_nll(model: TokenLM, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``(B, T)`` per-token negative log-likelihood ``-log p(x_t | x_<t)`` (natural log).

    ``temperature`` scores the model that samples at that temperature (logits / temperature).
    """
    logits = (
        model(tokens) / temperature
    )  # (B, T, V); flattening keeps log-softmax on the contiguous last dim (2x faster)
    return F.cross_entropy(logits.flatten(0, 1), tokens.flatten(), reduction="none").view_as(tokens)


@torch.no_grad()
def mean_nll(model: TokenLM, tokens: torch.Tensor, batch_size: int = 1000, temperature: float = 1.0) -> float:
    """Per-token NLL averaged over positions and sequences: SeqGAN's ``target_loss`` / NLL_test."""
    total = 0.0
    for lo in range(0, len(tokens), batch_size):
        total += float(token_nll(model, tokens[lo : lo + batch_size], temperature).sum())
    return total / tokens.numel()


def make_oracle(
    *, seed: int, vocab_size: int = 5000, emb_dim: int = 32, hidden_dim: int = 32, device: str | torch.device = "cpu"
) -> TokenLM:
    """SeqGAN's oracle: the LSTM with every parameter ~ N(0, 1), drawn from ``seed`` alone."""
    oracle = TokenLM(vocab_size=vocab_size, emb_dim=emb_dim, hidden_dim=hidden_dim, start_token=0)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in oracle.parameters():  # drawn on CPU from a private generator: same oracle on any device
            p.copy_(torch.randn(p.shape, generator=gen))
        oracle.lstm.bias_hh_l0.zero_()
    return oracle.to(device).eval().requires_grad_(False)
