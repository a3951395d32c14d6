"""Another energy model as a term of the target: products of experts and negation.

    ExpertTerm(ckpt="runs/ring/checkpoints/last.pt", weight=1.0)     # E_target = E_θ + E_ring
    ExpertTerm(ckpt="runs/nitrogen/.../last.pt", weight=-0.5)         # ... − 0.5·E_nitrogen (avoid N)

The term is differentiable: its input gradient adds to the model's in the transport edits and the
MH proposal, and its energy enters the acceptance.
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import Tensor, nn

from graph_energy.config import Configurable
from graph_energy.data.dense import DenseGraph
from graph_energy.data.spec import MolecularSpec
from graph_energy.samplers.target import EnergyTerm
from graph_energy.terms.base import check_vocabulary, term_weight

__all__ = ["ExpertTerm"]


class ExpertTerm(EnergyTerm, Configurable):
    """``weight · E_expert(x)`` for a second energy model (differentiable).

    Args:
        ckpt: checkpoint or bundle of the expert (or pass ``model=`` and ``spec=`` directly).
        weight: ``w_k`` (negative: negation, the chain avoids what the expert likes); ``temperature``
            sets ``weight = 1 / temperature`` instead.
        name: the term's name (default ``expert``).
        use_ema: load the EMA weights when the checkpoint has them.
        model: an already built energy model ``DenseGraph -> (B,)``.
        spec: the vocabulary the expert was trained on (taken from ``ckpt``).
        device: where to load the expert.
    """

    differentiable = True

    def __init__(self, ckpt: str | os.PathLike | None = None, weight: float = 1.0, name: str = "expert",
                 temperature: float | None = None, use_ema: bool = True, model: nn.Module | None = None,
                 spec: MolecularSpec | None = None, device: str = "cpu") -> None:
        if (ckpt is None) == (model is None):
            raise ValueError("ExpertTerm takes exactly one of ckpt=<checkpoint path> or model=<energy model>")
        self.ckpt = None if ckpt is None else str(ckpt)
        if model is None:
            from graph_energy.api import BUNDLED_MODELS, load

            path = Path(self.ckpt).expanduser()
            if not path.is_file() and self.ckpt.lower() not in BUNDLED_MODELS:
                raise ValueError(f"expert checkpoint {self.ckpt} does not exist; pass the path of a gem-train "
                                 "checkpoint or bundle (terms.<name>.ckpt=...)")
            loaded = load(self.ckpt, device=device, use_ema=use_ema)
            model, spec = loaded.model, loaded.spec
        self.model, self.spec = model, spec
        self.weight = term_weight(weight, temperature, f"expert term {name!r}")
        self.name = str(name)
        for k in ("model", "spec"):
            self._config_args.pop(k, None)

    def check(self, spec: MolecularSpec) -> ExpertTerm:
        """Raise ``ValueError`` if the expert was trained on another vocabulary than ``spec``; returns self."""
        check_vocabulary(self.spec, spec, f"expert term {self.name!r}")
        return self

    def term(self, graph: DenseGraph) -> Tensor:
        return self.model(graph)

    def describe(self) -> dict:
        return {"name": self.name, "kind": "expert", "weight": self.weight, "ckpt": self.ckpt, "differentiable": True}

    def __repr__(self) -> str:
        return f"ExpertTerm({self.name!r}: {self.weight:g} x E[{self.ckpt or type(self.model).__name__}])"
