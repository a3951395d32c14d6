"""The discrete flow-matching objective: the same-backbone baseline GEM is compared with.

Per coordinate, the path from a source ``p_0`` to the data is the mixture
``p_t(x | x_1) = t·δ(x, x_1) + (1 − t)·p_0(x)`` (Campbell et al., 2024; Gat et al., 2024; DeFoG,
Qin et al., 2025): draw ``x_0 ~ p_0`` with the data's node counts (independent pairing), ``t = f(u)``
with ``u ~ U(0, 1)`` and a time distortion ``f``, and keep every node and every pair ``i<j`` of
the data with probability ``t``, its noise class otherwise (:class:`~graph_energy.paths.MixturePath`).
The network ``(x_t, t) -> logits`` predicts ``x_1``; the loss is the cross-entropy
(:class:`~graph_energy.losses.dfm.DFMLoss`). Sampling is the CTMC of
:mod:`graph_energy.samplers.ctmc`, which must use the same ``p_0``: it is rebuilt from the run's
``noise`` config stored in the checkpoint.
"""

from __future__ import annotations

import torch

from graph_energy.data.dense import DenseGraph
from graph_energy.losses.base import LossOutput
from graph_energy.losses.dfm import DFMLoss
from graph_energy.models.flow import model_kind
from graph_energy.noise.distributions import NoiseDistribution
from graph_energy.paths.distortion import check_distortion, distort
from graph_energy.paths.mixture import MixturePath
from graph_energy.training.objective import Objective

__all__ = ["DFMObjective"]


class DFMObjective(Objective):
    """Cross-entropy of ``model(x_t, t)`` against ``x_1`` on the mixture path from ``noise``.

    Args:
        noise: the source ``p_0`` (the run's noise: ``noise=marginal`` as DeFoG uses for molecules,
            or ``uniform``).
        loss: default :class:`DFMLoss` (edge weight 5).
        time_distortion: ``f`` of the training times (:mod:`graph_energy.paths.distortion`).
        path: the mixture path (default :class:`MixturePath`).
    """

    second_order = False  # a plain forward loss: validation runs without autograd

    def __init__(self, noise: NoiseDistribution, loss: DFMLoss | None = None, time_distortion: str = "identity",
                 path: MixturePath | None = None) -> None:
        if not isinstance(noise, NoiseDistribution):
            raise TypeError(f"noise must be a NoiseDistribution (the run's noise group), got {type(noise).__name__}")
        self.noise = noise
        self.loss = loss if loss is not None else DFMLoss()
        self.time_distortion = check_distortion(time_distortion)
        self.path = path if path is not None else MixturePath()

    def __call__(self, model, x_1: DenseGraph, generator: torch.Generator, *, step: int = 0) -> LossOutput:
        net = getattr(model, "module", model)  # DDP
        if model_kind(net) != "dfm":
            raise ValueError(f"objective=dfm trains a time-conditioned class network, got a {type(net).__name__}; "
                             "use experiment=qm9_dfm or model._target_=graph_energy.models.flow.FlowTransformer")
        device = x_1.x.device
        x_0 = self.noise.sample(x_1.num_nodes.cpu(), generator, max_nodes=x_1.max_nodes).to(device)
        x_0 = DenseGraph(x_0.x.to(x_1.x.dtype), x_0.e.to(x_1.e.dtype), x_0.node_mask)
        u = torch.rand(x_1.batch_size, generator=generator)
        t = distort(u, self.time_distortion).to(x_1.x.dtype)
        path = self.path.sample(x_0, x_1, generator, t=t)
        out = self.loss(model(path.x_t, path.t), x_1)
        out.metrics["t_mean"] = float(path.t.mean())
        return out
