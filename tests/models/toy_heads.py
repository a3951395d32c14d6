"""A head defined outside the library, selected by ``model.head._target_=toy_heads.ToyEnergyHead``
(pytest puts this folder on sys.path)."""

import torch
from torch import Tensor, nn

from graph_energy.models import Features, Head


class ToyEnergyHead(Head):
    """``E = toy_scale · Σ_i ‖x_i‖² / max_nodes`` over real nodes: a scalar energy no library head computes."""

    def __init__(self, dims, spec, scale: float = 0.25) -> None:
        super().__init__(dims, spec)
        self.toy_scale = nn.Parameter(torch.tensor(float(scale)))

    def forward(self, features: Features) -> Tensor:
        nm = features.node_mask[..., None].to(features.x.dtype)
        return self.toy_scale * (features.x * nm).square().sum((1, 2)) / self.max_nodes
