"""A labelled toy dataset source: alkanols/amines whose labels are simple functions of the molecule."""

import pandas as pd

from graph_energy.data.sources import DatasetSource, RawSplits


def toy_smiles(n: int) -> list[str]:
    return [("C" * (1 + i % 7)) + ("N" if i % 3 == 2 else "O") for i in range(n)]


class LabelledToySource(DatasetSource):
    """``n`` molecules (row id = position + 100); labels ``carbons`` (count) and ``nitrogen`` (0/1); the first
    two thirds are the training split."""

    name = "labelled_toy"

    def __init__(self, n: int = 60) -> None:
        self.n = n

    def read(self, files):
        smi = toy_smiles(self.n)
        k = 2 * self.n // 3
        ids = {"train": list(range(100, 100 + k)), "val": list(range(100 + k, 100 + self.n))}
        import numpy as np

        return RawSplits({"train": smi[:k], "val": smi[k:]}, {s: np.array(v) for s, v in ids.items()}, {})

    def read_labels(self, files, names):
        smi = toy_smiles(self.n)
        table = pd.DataFrame({"carbons": [float(s.count("C")) for s in smi],
                              "nitrogen": [float("N" in s) for s in smi]}, index=range(100, 100 + self.n))
        return table
