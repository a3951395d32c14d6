"""An objective that lives outside the library, chosen on the gem-train command line by its ``_target_``."""

from __future__ import annotations

import json

import torch

from graph_energy.losses import LossOutput
from graph_energy.training import Objective


class ToyObjective(Objective):
    """``mean E(x_1) - mean E(x_0) + weight * mean(E(x_1)^2 + E(x_0)^2)`` with ``x_0`` noise graphs of the
    data's sizes: a loss of plain energies (no gradient of the model inside, so ``second_order=False``).

    It takes the run-time ``noise`` and ``spec``; ``coupling``, ``path`` and ``loss`` are accepted (and
    unused) so that overriding only the transport config's ``_target_`` selects it. Every value it
    returns is appended to ``record`` (a JSON-lines file) with the step and the train/eval mode.
    """

    second_order = False

    def __init__(self, noise, spec, record: str, weight: float = 0.1, coupling=None, path=None, loss=None) -> None:
        self.noise, self.spec, self.record, self.weight = noise, spec, record, float(weight)

    def __call__(self, model, x_1, generator, *, step=0) -> LossOutput:
        assert x_1.num_node_classes == self.spec.num_atom_types  # the spec of the run's dataset
        x_0 = self.noise.sample(x_1.num_nodes.cpu(), generator, max_nodes=x_1.max_nodes).to(x_1.x.device)
        e_1, e_0 = model(x_1), model(x_0)
        loss = e_1.mean() - e_0.mean() + self.weight * (e_1.pow(2) + e_0.pow(2)).mean()
        with open(self.record, "a") as fh:
            fh.write(json.dumps({"step": step, "training": model.training, "loss": float(loss),
                                 "grad_enabled": torch.is_grad_enabled()}) + "\n")
        return LossOutput(loss, terms={"energy_data": e_1.mean().detach(), "energy_noise": e_0.mean().detach()})
