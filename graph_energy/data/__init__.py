"""Dense graph batches, molecular specs, datasets and their statistics."""

from graph_energy.data.dense import DenseGraph, GraphLabels, pair_mask
from graph_energy.data.spec import AtomType, MolecularSpec
from graph_energy.data.stats import DatasetStats


def __getattr__(name):
    # Dataset loading pulls in pandas and RDKit; import it lazily so `import graph_energy.data` stays light.
    if name in ("load_dataset", "MolecularData", "default_data_root"):
        from graph_energy.data import datasets

        return getattr(datasets, name)
    if name in ("MolecularGraphDataset", "GraphStore"):
        from graph_energy.data import store

        return getattr(store, name)
    raise AttributeError(f"module 'graph_energy.data' has no attribute {name!r}")


__all__ = ["DenseGraph", "GraphLabels", "pair_mask", "AtomType", "MolecularSpec", "DatasetStats",
           "load_dataset", "MolecularData", "MolecularGraphDataset", "GraphStore", "default_data_root"]
