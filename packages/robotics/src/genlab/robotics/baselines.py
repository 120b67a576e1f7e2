"""Goal-conditioned behaviour cloning, the learned baseline beside Diffuser on the same data.

Janner et al. (2022, Table 1) compare Diffuser on Maze2D with model-free offline RL (IQL, CQL) and MPPI; here
the learned baseline is the simplest goal-conditioned imitation of the same stream: an MLP trained by
regression, pi(s, g) -> a, on every step's (observation, goal the controller drove to, action), inputs
normalised to [-1, 1], output squashed to the action box by tanh.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from genlab.robotics.dataset import MazeDataset
from genlab.robotics.normalizer import LimitsNormalizer
from genlab.robotics.scores import Policy


class GoalBC(nn.Module):
    """``model(obs_goal [B, 6]) -> action [B, 2]`` in [-1, 1]; the inputs are normalised (x, y, vx, vy, gx, gy)."""

    def __init__(
        self, hidden: int = 256, depth: int = 3, obs_dim: int = 4, goal_dim: int = 2, act_dim: int = 2
    ):
        super().__init__()
        widths = [obs_dim + goal_dim, *[hidden] * depth]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.Mish()]
        self.net = nn.Sequential(*layers, nn.Linear(hidden, act_dim), nn.Tanh())
        self.in_dim = obs_dim + goal_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(
                f"expected inputs [B, {self.in_dim}] (observation and goal), got {tuple(x.shape)}"
            )
        return self.net(x)


def bc_inputs(normalizer: LimitsNormalizer, observations, goals) -> np.ndarray:
    """Normalised (observation, goal) rows [N, 6]; the goal uses the position dims' range."""
    goal_norm = LimitsNormalizer(normalizer.mins[:2], normalizer.maxs[:2])
    return np.concatenate([normalizer.normalize(observations), goal_norm.normalize(goals)], axis=-1)


def bc_dataset(data: MazeDataset, normalizer: LimitsNormalizer) -> TensorDataset:
    """(inputs [N, 6], actions [N, 2]) of every step of the stream."""
    x = bc_inputs(normalizer, data.observations, data.goals)
    return TensorDataset(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(data.actions))


def bc_loss(model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean squared error between predicted and recorded actions."""
    x, a = batch
    loss = (model(x) - a).pow(2).mean()
    return loss, {"loss": float(loss.detach())}


def cloned_policy(model: nn.Module, normalizer: LimitsNormalizer) -> Policy:
    """The cloned policy as a ``scores.Policy``."""
    device = next(model.parameters()).device

    def policy(observation, goal) -> np.ndarray:
        x = bc_inputs(normalizer, np.asarray(observation, dtype=np.float64)[None], np.asarray(goal)[None])
        with torch.no_grad():
            return model(torch.as_tensor(x, dtype=torch.float32, device=device))[0].cpu().numpy()

    return policy
