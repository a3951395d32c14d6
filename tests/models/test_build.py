from importlib.resources import files

import pytest
import torch
from model_helpers import random_graph
from omegaconf import OmegaConf

from graph_energy.models import GraphTransformerEnergy, build_energy_model

PRESETS = ["tiny", "small", "base", "paper"]


def preset(name: str) -> dict:
    path = files("graph_energy") / "conf" / "model" / f"{name}.yaml"
    return OmegaConf.to_container(OmegaConf.load(str(path)), resolve=True)


@pytest.mark.parametrize("name", PRESETS)
def test_presets_build(name, spec):
    model = build_energy_model(preset(name), spec)
    assert isinstance(model, GraphTransformerEnergy)
    assert model.layers[0].drop.__class__.__name__ == "Identity"  # dropout 0 by default


def test_paper_preset_shape(spec):
    cfg = preset("paper")
    assert (cfg["n_layers"], cfg["hidden_x"], cfg["hidden_e"], cfg["hidden_y"], cfg["n_heads"]) == (12, 256, 64, 128, 8)


def test_tiny_preset_runs(spec):
    model = build_energy_model(preset("tiny"), spec)
    out = model(random_graph(spec, [5, 9], 9, dtype=torch.float32))
    assert out.shape == (2,)


def test_plain_kwargs_and_bad_configs(spec):
    cfg = {k: v for k, v in preset("tiny").items() if k != "_target_"}
    assert isinstance(build_energy_model(cfg, spec), GraphTransformerEnergy)
    with pytest.raises(ValueError, match="bad model config"):
        build_energy_model({**cfg, "n_layerz": 3}, spec)
    with pytest.raises(ValueError, match="_target_"):
        build_energy_model({**cfg, "_target_": "graph_energy.models.NoSuchModel"}, spec)
    with pytest.raises(TypeError):
        build_energy_model(["tiny"], spec)
