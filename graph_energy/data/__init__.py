"""Dense graph batches, molecular specs and datasets."""

from graph_energy.data.dense import DenseGraph, GraphLabels, pair_mask
from graph_energy.data.spec import AtomType, MolecularSpec

__all__ = ["DenseGraph", "GraphLabels", "pair_mask", "AtomType", "MolecularSpec"]
