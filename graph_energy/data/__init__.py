"""Dense graph batches, molecular specs, dataset sources, datasets and their statistics."""

from graph_energy.data.dense import DenseGraph, GraphLabels, pair_mask
from graph_energy.data.spec import AtomType, MolecularSpec
from graph_energy.data.stats import DatasetStats

# Dataset loading pulls in pandas and PyG; import it lazily so `import graph_energy.data` stays light.
_LAZY = {
    "load_dataset": "datasets", "MolecularData": "datasets", "DatasetConfig": "datasets",
    "default_data_root": "datasets",
    "MolecularGraphDataset": "store", "GraphStore": "store",
    "DatasetSource": "sources", "RawSplits": "sources", "QM9Source": "sources", "MosesSource": "sources",
    "Zinc250kSource": "sources", "SmilesFileSource": "sources",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"graph_energy.data.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'graph_energy.data' has no attribute {name!r}")


__all__ = ["DenseGraph", "GraphLabels", "pair_mask", "AtomType", "MolecularSpec", "DatasetStats", *_LAZY]
