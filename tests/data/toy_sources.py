"""A dataset source defined outside the library: it makes its own molecules (alkanols of growing length).

Selected purely by ``_target_`` (``dataset.source._target_=toy_sources.ToySource``), no library edit.
"""

from graph_energy.data.sources import DatasetSource, RawSplits


def toy_smiles(num_molecules: int) -> list[str]:
    """``CO``, ``CCO``, ``CCCO``, ... and every third one with a nitrogen: ``num_molecules`` SMILES."""
    return [("C" * (1 + i % 6)) + ("N" if i % 3 == 2 else "O") for i in range(num_molecules)]


class ToySource(DatasetSource):
    """The first ``num_train`` toy molecules are the training split, the rest split evenly into val/test."""

    name = "toy"

    def __init__(self, num_molecules: int = 12, num_train: int = 8):
        if not 0 < num_train < num_molecules:
            raise ValueError(f"need 0 < num_train < num_molecules, got {num_train}, {num_molecules}")
        self.num_molecules, self.num_train = num_molecules, num_train

    def read(self, files):
        smiles = toy_smiles(self.num_molecules)
        rest = smiles[self.num_train:]
        half = len(rest) // 2
        return RawSplits.from_lists({"train": smiles[:self.num_train], "val": rest[:half], "test": rest[half:]},
                                    {"protocol": "toy alkanols"})
