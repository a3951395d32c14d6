"""The property objective: a regression head on the shared backbone predicts molecular labels, on data
graphs and on path states ``x_t``.

Guidance evaluates a predictor at the sampler's states, which are off the data manifold until the
chains have converged, so the predictor is trained on both: the data graph ``x_1`` and a state
``x_t`` of the mixture path from the run's noise to ``x_1`` (:class:`~graph_energy.paths.MixturePath`),
both regressed on the labels of ``x_1``. The loss of a path state is weighted by ``t`` (a state near
noise carries little information about ``x_1``). Labels are standardised with the fixed
``normalization`` table of the config, which the checkpoint keeps, so the predictor term
(:class:`~graph_energy.terms.PredictorTerm`) returns physical units.

    gem-train experiment=qm9_property property=mu      # dipole moment (Debye)
    gem-train experiment=qm9_property property=homo    # HOMO energy (hartree)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from graph_energy.data.dense import DenseGraph
from graph_energy.losses.base import LossOutput
from graph_energy.noise.distributions import NoiseDistribution
from graph_energy.paths.mixture import MixturePath
from graph_energy.training.objective import Objective

__all__ = ["PropertyObjective"]


class PropertyObjective(Objective):
    """Mean squared error of standardised predictions on ``x_1`` and (weighted by ``t``) on ``x_t``.

    Args:
        property: the label name(s) to predict, in the network's output order (``num_targets`` of its
            ``RegressionHead``).
        normalization: ``name -> {mean, std, ...}`` label statistics of the training split.
        noise: the run's noise (source of the path states); ``None`` trains on data graphs only.
        noisy_weight: weight of the path-state loss (0: data graphs only).
        path: the mixture path (default :class:`MixturePath`).

    The batch must carry labels (``x_1.y (B, K)``: a dataset loaded with ``labels=[...]``); graphs with
    an unknown (NaN) label are left out of the loss.
    """

    second_order = False  # plain forward losses: validation runs without autograd

    def __init__(self, property: str | Sequence[str], normalization: Mapping[str, Mapping], noise: NoiseDistribution
                 | None = None, noisy_weight: float = 1.0, path: MixturePath | None = None) -> None:
        names = [property] if isinstance(property, str) else [str(p) for p in property]
        if not names:
            raise ValueError("property must name at least one label, e.g. property=mu")
        missing = [n for n in names if n not in normalization]
        if missing:
            raise ValueError(f"no normalization for {missing}; objective.normalization has {sorted(normalization)}")
        self.names = names
        self.mean = torch.tensor([float(normalization[n]["mean"]) for n in names], dtype=torch.float64)
        self.std = torch.tensor([float(normalization[n]["std"]) for n in names], dtype=torch.float64)
        if (self.std <= 0).any():
            raise ValueError(f"label std must be positive, got {self.std.tolist()} for {names}")
        if noise is not None and not isinstance(noise, NoiseDistribution):
            raise TypeError(f"noise must be a NoiseDistribution (the run's noise group), got {type(noise).__name__}")
        self.noise, self.noisy_weight = noise, float(noisy_weight)
        if self.noisy_weight < 0:
            raise ValueError(f"noisy_weight must be >= 0, got {noisy_weight}")
        self.path = path if path is not None else MixturePath()

    def targets(self, x_1: DenseGraph) -> Tensor:
        """``(B, K)`` standardised labels of the batch (NaN where unknown)."""
        y = getattr(x_1, "y", None)
        if y is None:
            raise ValueError("the property objective needs labelled graphs: load the dataset with labels, e.g. "
                             "dataset.labels=[mu] (experiment=qm9_property does)")
        if y.dim() != 2 or y.shape[1] < len(self.names):
            raise ValueError(f"batch labels have shape {tuple(y.shape)}, expected (B, {len(self.names)}) for {self.names}")
        y = y[:, : len(self.names)].to(torch.float64)
        return (y - self.mean.to(y.device)) / self.std.to(y.device)

    def _predict(self, model, graph: DenseGraph) -> Tensor:
        out = model(graph)
        out = out[:, None] if out.dim() == 1 else out
        if out.shape[1] != len(self.names):
            raise ValueError(f"the network predicts {out.shape[1]} values, the objective has {len(self.names)} labels "
                             f"{self.names}; set model.head.num_targets={len(self.names)}")
        return out

    def __call__(self, model, x_1: DenseGraph, generator: torch.Generator, *, step: int = 0) -> LossOutput:
        y = self.targets(x_1)
        ok = torch.isfinite(y).all(1)
        yt = torch.where(ok[:, None], y, torch.zeros_like(y))
        w = ok.to(torch.float64)
        n = w.sum().clamp_min(1.0)
        graph = DenseGraph(x_1.x, x_1.e, x_1.node_mask)
        pred = self._predict(model, graph).to(torch.float64)
        clean = (((pred - yt) ** 2).mean(1) * w).sum() / n
        terms = {"loss_clean": clean.detach()}
        loss = clean
        metrics = {"mae_clean_std": float(((pred.detach() - yt).abs().mean(1) * w).sum() / n)}
        if self.noise is not None and self.noisy_weight > 0:
            device = x_1.x.device
            x_0 = self.noise.sample(x_1.num_nodes.cpu(), generator, max_nodes=x_1.max_nodes).to(device)
            x_0 = DenseGraph(x_0.x.to(x_1.x.dtype), x_0.e.to(x_1.e.dtype), x_0.node_mask)
            ps = self.path.sample(x_0, graph, generator)
            pred_t = self._predict(model, ps.x_t).to(torch.float64)
            wt = w * ps.t.to(torch.float64)
            noisy = (((pred_t - yt) ** 2).mean(1) * wt).sum() / wt.sum().clamp_min(1e-8)
            terms["loss_noisy"] = noisy.detach()
            loss = loss + self.noisy_weight * noisy
        return LossOutput(loss.to(x_1.x.dtype), terms, metrics)
