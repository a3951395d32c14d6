"""Fixtures shared by the whole suite."""

import pytest
import torch

# A small SMILES set covering aromatic rings, triple bonds, branches and several heteroatoms.
TINY_SMILES = ("CCO CC(=O)O c1ccccc1 CCN CC(C)O OCC(O)CO CC#N C1CCCCC1 CC(=O)N COC CCOC(C)=O c1ccncc1 "
               "CC(C)(C)O NCC(=O)O").split()
# A one-layer energy network: random weights, milliseconds per step.
TINY_MODEL = dict(n_layers=1, hidden_x=8, hidden_e=4, hidden_y=4, n_heads=2, ff_x=8, ff_e=8, ff_y=8, rw_steps=2)


@pytest.fixture(scope="session")
def qm9():
    """The bundled QM9 model (skipped where the package ships without it)."""
    from graph_energy import api

    bundled = api._ASSETS / api.BUNDLED_MODELS["qm9"]
    if not bundled.is_file():
        pytest.skip(f"no bundled model file graph_energy/assets/{bundled.name}")
    import graph_energy as ge

    return ge.load("qm9")


@pytest.fixture()
def one_thread():
    """One torch thread for the test: bitwise-reproducible chains and no oversubscription on small CPUs."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def make_tiny_checkpoint():
    """Factory ``(folder, ema=False) -> (checkpoint path, dataset config)``: a random tiny model over a
    SMILES file of :data:`TINY_SMILES`, its dataset prepared under ``folder`` (point ``GEM_DATA_DIR`` /
    ``GEM_CACHE_DIR`` there first). ``ema=True`` also stores perturbed EMA weights and training state,
    as a real training checkpoint has."""

    def make(folder, ema: bool = False):
        from graph_energy.data import load_dataset
        from graph_energy.models import build_energy_model
        from graph_energy.training.checkpoint import save_checkpoint

        p = folder / "mols.smi"
        p.write_text("\n".join(TINY_SMILES * 3) + "\n")
        ds_cfg = {"name": "smiles", "path": str(p), "workers": 1}
        data = load_dataset(ds_cfg)
        torch.manual_seed(0)
        model_cfg = {"_target_": "graph_energy.models.GraphTransformerEnergy", **TINY_MODEL}
        model = build_energy_model(model_cfg, data.spec)
        state = {"step": 1, "model": model.state_dict(), "config": {"model": model_cfg, "dataset": ds_cfg},
                 "spec": data.spec.to_dict(), "stats": data.stats.to_dict()}
        if ema:
            state["step"] = 3
            state["ema"] = {k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() else v
                            for k, v in model.state_dict().items()}
            state["optimizer"] = {"state": {}, "param_groups": []}
            state["config"]["train"] = {"run_dir": str(folder), "max_steps": 3}
        return save_checkpoint(folder / "ckpt.pt", state), ds_cfg

    return make
