"""The RDKit bridge: molecules <-> graphs, SMILES, properties."""

from graph_energy.chem.convert import (
    ConversionError,
    MolGraph,
    assemble_mol,
    canonical_smiles,
    dense_to_smiles,
    graph_to_mol,
    graphs_to_labels,
    labels_to_mols,
    mol_to_graph,
    quiet_rdkit,
    smiles_to_graph,
)
from graph_energy.chem.encode import MolTokens, encode_smiles, spec_from_smiles

__all__ = ["ConversionError", "MolGraph", "canonical_smiles", "dense_to_smiles", "graph_to_mol",
           "graphs_to_labels", "labels_to_mols", "mol_to_graph", "quiet_rdkit", "smiles_to_graph",
           "assemble_mol", "MolTokens", "encode_smiles", "spec_from_smiles"]
