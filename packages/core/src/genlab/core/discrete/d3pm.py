"""D3PM: discrete-time diffusion through transition matrices (Austin et al., 2021).

One step moves a token from state i to j with chance Q_k[i, j] (rows sum to 1), so
q(x_k | x0) = Cat(x0 Qbar_k) with Qbar_k = Q_1 Q_2 ... Q_k, kept in float64 so that long
products stay stochastic. Three kinds (paper, App. A.2):

- ``uniform``:   Q_k = (1 - beta_k) I + beta_k / K 11^T
- ``absorbing``: Q_k = (1 - beta_k) I + beta_k 1 e_m^T, with mask id m = K (K + 1 states)
- ``gaussian``:  Q_k[i, j] ∝ exp(-4 (i - j)^2 / ((K - 1)^2 beta_k)) for i != j, the diagonal
  taking the rest; for ordinal data such as pixel levels.

The model predicts p_theta(x0 | x_k) and the reverse step averages the exact posterior over it,
p_theta(x_{k-1} | x_k) = sum_x0 p_theta(x0 | x_k) q(x_{k-1} | x_k, x0), so the exact denoiser
gives the exact reverse step (the paper's eq. 4 omits the 1 / q(x_k | x0) inside this sum, the same
for the absorbing kind but not for the others; see ``paths.reweight``).

Step k of T runs at genlab time t = k / T, so models see the same t in [0, 1] as on every other
path. The default betas, beta_k = 1 / (T - k + 1), make the keep-chance 1 - k/T (the linear
mixture path) and end exactly at the stationary distribution.
"""

from __future__ import annotations

import torch

from genlab.core.discrete.paths import pad_probs, reweight
from genlab.core.lookup import lookup
from genlab.core.tensors import check_time


def _uniform(beta: float, k: int) -> torch.Tensor:
    return (1 - beta) * torch.eye(k, dtype=torch.float64) + beta / k


def _absorbing(beta: float, k: int) -> torch.Tensor:
    q = (1 - beta) * torch.eye(k + 1, dtype=torch.float64)
    q[:, k] += beta
    return q


def _gaussian(beta: float, k: int) -> torch.Tensor:
    offsets = torch.arange(-(k - 1), k, dtype=torch.float64)
    norm = torch.exp(-4 * offsets**2 / ((k - 1) ** 2 * beta)).sum()
    i = torch.arange(k, dtype=torch.float64)
    q = torch.exp(-4 * (i[:, None] - i[None, :]) ** 2 / ((k - 1) ** 2 * beta)) / norm
    q.fill_diagonal_(0)
    return q + torch.diag(1 - q.sum(1))


KINDS = {"uniform": _uniform, "absorbing": _absorbing, "gaussian": _gaussian}


def default_betas(kind: str, steps: int) -> torch.Tensor:
    """beta_k = 1/(T - k + 1) (linear keep-chance) for uniform/absorbing; linear 0.02 -> 1 for gaussian."""
    k = torch.arange(1, steps + 1, dtype=torch.float64)
    return (
        torch.linspace(0.02, 1.0, steps, dtype=torch.float64) if kind == "gaussian" else 1 / (steps - k + 1)
    )


class D3PMPath:
    """Transition matrices ``Q`` [T+1, S, S] (Q[0] = I) and their cumulative products ``Qbar``."""

    def __init__(self, vocab_size: int, kind: str = "absorbing", steps: int = 100, betas=None):
        make = lookup("D3PM kind", kind, KINDS)
        if vocab_size < 2 or steps < 1:
            raise ValueError(f"need vocab_size >= 2 and steps >= 1, got {vocab_size} and {steps}")
        betas = default_betas(kind, steps) if betas is None else torch.as_tensor(betas, dtype=torch.float64)
        if betas.shape != (steps,) or (betas <= 0).any() or (betas > 1).any():
            raise ValueError(f"betas must be {steps} values in (0, 1], got shape {tuple(betas.shape)}")
        self.kind, self.vocab_size, self.steps = kind, vocab_size, steps
        self.mask_id = vocab_size if kind == "absorbing" else None
        self.num_states = vocab_size + (kind == "absorbing")
        eye = torch.eye(self.num_states, dtype=torch.float64)
        self.Q = torch.stack([eye] + [make(float(b), vocab_size) for b in betas])
        Qbar = [eye]
        for Q in self.Q[1:]:
            Qbar.append(Qbar[-1] @ Q)
        self.Qbar = torch.stack(Qbar)

    def step(self, t: torch.Tensor) -> torch.Tensor:
        """The integer step k = round(t T) of a time t on the grid k / T."""
        return torch.round(t * self.steps).long().clamp(0, self.steps)

    def _step_like(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Steps shaped to broadcast against x (per-sample t is not expanded per token)."""
        check_time(t, x)
        return self.step(t).reshape(*t.shape, *([1] * (x.ndim - t.ndim)))

    def prior_probs(self, like: torch.Tensor) -> torch.Tensor:
        """p(x_T): the mask for ``absorbing``, uniform otherwise (every Q_k is doubly stochastic)."""
        if self.mask_id is not None:
            return torch.nn.functional.one_hot(torch.tensor(self.mask_id), self.num_states).to(like)
        return like.new_full((self.num_states,), 1 / self.num_states)

    def prior_sample(self, shape: tuple[int, ...], device=None, generator=None) -> torch.Tensor:
        if self.mask_id is not None:
            return torch.full(shape, self.mask_id, dtype=torch.long, device=device)
        return torch.randint(self.vocab_size, shape, device=device, generator=generator)

    def probs(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """q(x_t | x0) = row x0 of Qbar_k, shape x0.shape + (S,), in float64."""
        return self.Qbar.to(x0.device)[self._step_like(t, x0), x0]

    def sample(self, x0: torch.Tensor, t: torch.Tensor, generator=None) -> torch.Tensor:
        if x0.min() < 0 or x0.max() >= self.vocab_size:
            raise ValueError(f"x0 holds tokens outside [0, {self.vocab_size})")
        probs = self.probs(x0, t)
        return torch.multinomial(probs.reshape(-1, self.num_states), 1, generator=generator).reshape(x0.shape)

    def posterior(self, x_t: torch.Tensor, x0_probs: torch.Tensor, t: torch.Tensor, s: torch.Tensor):
        """p_theta(x_{k-1} | x_k) = sum_x0 p(x0) q(x_{k-1} | x_k, x0) with p = ``x0_probs``, where

        q(x_{k-1} | x_k, x0) = Q_k[x_{k-1}, x_k] Qbar_{k-1}[x0, x_{k-1}] / Qbar_k[x0, x_k]     (eq. 3).
        """
        k = self._step_like(t, x_t)
        if not torch.equal(self._step_like(s, x_t), k - 1) or (k < 1).any():
            raise ValueError("D3PM posteriors go one step at a time: s must be t - 1/T, with t >= 1/T")
        p = pad_probs(x0_probs, self.num_states)
        Q, Qbar = self.Q.to(p), self.Qbar.to(p)
        weights = reweight(p, Qbar[k, :, x_t])  # p(x0) / q(x_k | x0)
        likelihood = Q[k, :, x_t]  # Q_k[:, x_k]: chance of landing on x_k from each x_{k-1}
        joint = likelihood * torch.einsum("...i,...ij->...j", weights, Qbar[k - 1])
        return joint / joint.sum(-1, keepdim=True)
