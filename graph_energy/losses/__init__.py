"""Training objectives (pure functions of a model and a batch, returning a LossOutput)."""

from graph_energy.losses.base import LossOutput
from graph_energy.losses.contrastive import ContrastiveLoss, negative_weights
from graph_energy.losses.transport import TransportLoss, masked_graph_mean

__all__ = ["LossOutput", "TransportLoss", "masked_graph_mean", "ContrastiveLoss", "negative_weights"]
