"""The molecule grid: layouts that keep atoms clear of each other, legends and a caption."""

import pytest

pytest.importorskip("PIL")


def test_depict_keeps_atoms_of_cages_apart():
    from rdkit import Chem

    from graph_energy.chem.draw import _clearance, _rdkit_default, depict

    # bridged and caged QM9-like molecules whose default depictions draw atoms onto each other or onto bonds
    for smi, least in (("OC12CC3C1N2C3", 0.4), ("CC1C2OC3C1C23O", 0.4), ("OC12C3OC1C23", 0.4), ("NC1=C2OC3C1C23", 0.25)):
        mol = Chem.MolFromSmiles(smi)
        chosen = depict(mol)
        xy = chosen.GetConformer().GetPositions()[:, :2]
        default = _rdkit_default(mol)[0]
        assert _clearance(mol, xy) >= _clearance(mol, default) - 1e-9
        assert _clearance(mol, xy) > least, smi  # (in bond lengths) the default layouts reach 0.15-0.26
        assert Chem.MolToSmiles(chosen) == Chem.MolToSmiles(mol)  # same molecule, new coordinates
    a, b = depict(Chem.MolFromSmiles("CC1C2OC3C1C23O")), depict(Chem.MolFromSmiles("CC1C2OC3C1C23O"))
    assert (a.GetConformer().GetPositions() == b.GetConformer().GetPositions()).all()  # deterministic


def test_grid_with_caption(tmp_path):
    from PIL import Image

    from graph_energy.chem.draw import save_grid_image

    smiles = ["CCO", None, "c1ccccc1", "not a smiles", "OC12CC3C1N2C3"]
    plain, captioned = tmp_path / "a.png", tmp_path / "b.png"
    assert save_grid_image(smiles, plain, mols_per_row=3, legends=[f"E={i}" for i in range(5)]) == 3
    assert save_grid_image(smiles, captioned, mols_per_row=3, caption="E = model energy; sampler default, seed 0") == 3
    a, b = Image.open(plain), Image.open(captioned)
    assert a.size[0] == b.size[0] == 3 * 220 and a.size[1] == 220 and b.size[1] > a.size[1]
    assert save_grid_image([None, ""], tmp_path / "none.png") == 0 and not (tmp_path / "none.png").exists()
