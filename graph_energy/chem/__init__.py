"""The RDKit bridge: molecules <-> graphs, SMILES, properties."""

from graph_energy.chem.convert import (
    ConversionError,
    MolGraph,
    canonical_smiles,
    dense_to_smiles,
    graph_to_mol,
    graphs_to_labels,
    labels_to_mols,
    mol_to_graph,
    quiet_rdkit,
    smiles_to_graph,
)

__all__ = ["ConversionError", "MolGraph", "canonical_smiles", "dense_to_smiles", "graph_to_mol",
           "graphs_to_labels", "labels_to_mols", "mol_to_graph", "quiet_rdkit", "smiles_to_graph"]
