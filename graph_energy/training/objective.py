"""The phase-1 objective: noise -> coupling -> path -> transport loss, for one data batch."""

from __future__ import annotations

import torch

from graph_energy.coupling.couplings import Coupling
from graph_energy.data.dense import DenseGraph
from graph_energy.losses.base import LossOutput
from graph_energy.losses.transport import TransportLoss
from graph_energy.noise.distributions import NoiseDistribution
from graph_energy.paths.mixture import MixturePath

__all__ = ["TransportObjective"]


class TransportObjective:
    """``L_T`` of METHOD.md §2 for a data batch ``x_1``.

    Draws noise graphs with the data's node counts, pairs them with the data (``coupling``), samples
    ``x_t`` on ``path`` and evaluates ``loss``. All randomness comes from one CPU ``generator``.
    """

    def __init__(self, noise: NoiseDistribution, coupling: Coupling, path: MixturePath | None = None,
                 loss: TransportLoss | None = None) -> None:
        self.noise = noise
        self.coupling = coupling
        self.path = path if path is not None else MixturePath()
        self.loss = loss if loss is not None else TransportLoss()

    def __call__(self, model, x_1: DenseGraph, generator: torch.Generator) -> LossOutput:
        device = x_1.x.device
        x_0 = self.noise.sample(x_1.num_nodes.cpu(), generator, max_nodes=x_1.max_nodes)
        x_0 = self.coupling(x_0, x_1.to(torch.device("cpu")), generator).to(device)
        return self.loss(model, self.path.sample(x_0, x_1, generator))
