"""A Markov-chain language whose exact NLL and exact denoisers are computable (the oracle)."""

from __future__ import annotations

import itertools

import pytest
import torch


class MarkovChain:
    """x_1 ~ init, x_l | x_{l-1} ~ trans[x_{l-1}]; all in float64."""

    def __init__(self, vocab: int, length: int, seed: int = 0, sharpness: float = 3.0):
        g = torch.Generator().manual_seed(seed)
        self.vocab, self.length = vocab, length
        self.init = torch.softmax(sharpness * torch.randn(vocab, generator=g, dtype=torch.float64), 0)
        self.trans = torch.softmax(sharpness * torch.randn(vocab, vocab, generator=g, dtype=torch.float64), 1)

    def sample(self, n: int, seed: int = 1) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        x = [torch.multinomial(self.init, n, replacement=True, generator=g)]
        for _ in range(self.length - 1):
            x.append(torch.multinomial(self.trans[x[-1]], 1, generator=g)[:, 0])
        return torch.stack(x, 1)

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """-log p(x) in nats, [B]."""
        return -(self.init[x[:, 0]].log() + self.trans[x[:, :-1], x[:, 1:]].log().sum(1))

    def all_sequences(self) -> tuple[torch.Tensor, torch.Tensor]:
        seqs = torch.tensor(list(itertools.product(range(self.vocab), repeat=self.length)))
        return seqs, (-self.nll(seqs)).exp()

    def marginals(self, emission: torch.Tensor) -> torch.Tensor:
        """p(x0^l = k | observations) by forward-backward, from emission[b, l, k] = p(obs_l | x0^l = k)."""
        B, L, K = emission.shape
        alpha = [self.init * emission[:, 0]]
        alpha[0] = alpha[0] / alpha[0].sum(-1, keepdim=True)
        for l in range(1, L):
            a = (alpha[-1] @ self.trans) * emission[:, l]
            alpha.append(a / a.sum(-1, keepdim=True))
        beta = [torch.ones(B, K, dtype=torch.float64)]
        for l in range(L - 1, 0, -1):
            b = (self.trans @ (emission[:, l] * beta[0]).T).T
            beta.insert(0, b / b.sum(-1, keepdim=True))
        post = torch.stack(alpha, 1) * torch.stack(beta, 1)
        return post / post.sum(-1, keepdim=True)

    def denoiser(self, path):
        """The exact p(x0^l | x_t) of ``path`` as a model returning log-probabilities."""

        def model(x_t: torch.Tensor, t: torch.Tensor, **cond) -> torch.Tensor:
            emission = torch.stack(
                [
                    path.probs(torch.full_like(x_t, k), t).gather(-1, x_t[..., None])[..., 0]
                    for k in range(self.vocab)
                ],
                -1,
            )
            return self.marginals(emission.double()).log()  # -inf where impossible

        return model


@pytest.fixture
def chain() -> MarkovChain:
    return MarkovChain(vocab=4, length=8)


@pytest.fixture
def small_chain() -> MarkovChain:
    return MarkovChain(vocab=3, length=4, seed=3, sharpness=1.5)
