"""Networks (a backbone and heads), their builder, and the energy/gradient oracle."""

from __future__ import annotations

from graph_energy.models.backbone import FeatureDims, Features, GraphTransformerBackbone
from graph_energy.models.build import build_energy_model, build_model
from graph_energy.models.energy_eval import EnergyEval, EnergyModel, energy_and_grad, symmetrize_edge_grad
from graph_energy.models.features import GraphFeatures, StructuralFeatures
from graph_energy.models.heads import ClassHead, ClassLogits, EnergyHead, Head, RegressionHead
from graph_energy.models.network import GraphNetwork, GraphTransformerEnergy

__all__ = [
    "ClassHead",
    "ClassLogits",
    "EnergyEval",
    "EnergyHead",
    "EnergyModel",
    "FeatureDims",
    "Features",
    "GraphFeatures",
    "GraphNetwork",
    "GraphTransformerBackbone",
    "GraphTransformerEnergy",
    "Head",
    "RegressionHead",
    "StructuralFeatures",
    "build_energy_model",
    "build_model",
    "energy_and_grad",
    "symmetrize_edge_grad",
]
