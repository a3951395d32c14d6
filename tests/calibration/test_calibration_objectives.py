"""Calibration objectives scored on decoded samples."""

import pytest

from graph_energy.calibration import ConnectedValidUnique, ValidUniqueFCD

pytest.importorskip("fcd")

# reference molecules (the "held-out split") and two candidate sample sets
REF = ["CCO", "CCN", "CCC", "CC(C)O", "OCCO", "CC(=O)O", "CCOC", "CNC", "CC#N", "C1CCCC1", "C1CCOC1",
       "c1ccccc1", "c1ccncc1", "Cc1ccccc1", "Oc1ccccc1", "CC(N)=O", "NCCO", "CCCCO", "COC(C)=O", "C=CC=O",
       "C1CC1", "OC1CC1", "CN(C)C", "C#CC", "CC(C)(C)O", "OCC(O)CO", "NCC(=O)O", "COC", "CCOC(C)=O"]
FAR = ["CCCCCCCCCC", "CCCCCCCCC", "CCCCCCCC", "CCCCCCCCCCC", "CCCCCCC", "CCCCCCCCCCCC", "CCCCCCCCCCCCC",
       "CC(C)CCCCCC", "CCC(C)CCCCC", "CCCC(C)CCCC", "CCCCCC(C)CC", "CC(C)CC(C)CC"]


class Decoded:
    """The two things an objective reads from a sampling result: per-chain SMILES and the summary."""

    def __init__(self, smiles):
        self.smiles = smiles

    def __len__(self):
        return len(self.smiles)

    def summary(self):
        valid = [s for s in self.smiles if s is not None]
        return {"valid_unique": len(set(valid)) / len(self.smiles)}


@pytest.fixture()
def objective(tmp_path, monkeypatch):
    monkeypatch.setenv("GEM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GEM_DATA_DIR", str(tmp_path / "data"))
    f = tmp_path / "ref.csv"
    f.write_text("smiles,split\n" + "".join(f"{s},train\n" for s in REF) + "C,val\nCC,test\n")
    return ValidUniqueFCD({"name": "smiles", "path": str(f), "split_column": "split", "workers": 1},
                          split="train", weight=0.1)


def test_fcd_objective_prefers_samples_that_match_the_reference(objective):
    near = objective(Decoded(REF[:20]))
    far = objective(Decoded(FAR))
    # both sets are fully valid and unique: the difference is the FCD term alone
    assert near > far
    assert 1.0 - near < 0.1 * 30  # FCD of a subset of the reference stays small
    # a disconnected sample is scored on its largest fragment, an invalid one costs validity
    with_frag = objective(Decoded(REF[:19] + ["CCO.C"]))
    with_invalid = objective(Decoded(REF[:19] + [None]))
    assert with_invalid < with_frag
    assert objective(Decoded([None, None, "CCO"])) == float("-inf")


def test_connected_valid_unique_counts_single_fragments_once():
    assert ConnectedValidUnique()(Decoded(["CCO", "CCO", "CC.O", None])) == pytest.approx(0.25)
