"""Training objectives: the base class the trainer drives, and the phase-1 transport objective.

An objective maps a model and a data batch ``x_1`` to a :class:`~graph_energy.losses.LossOutput`.
A new objective is one :class:`Objective` subclass plus one ``conf/objective/<name>.yaml`` naming it
by ``_target_``. Pieces that only exist at run time (the dataset's ``spec`` and ``stats``, the run's
``noise``) are not written in the YAML: the config is ``_partial_`` and :func:`bind_objective`
passes those of them that the constructor names.
"""

from __future__ import annotations

import functools
import inspect
from abc import ABC, abstractmethod
from typing import Any

import torch

from graph_energy.coupling.couplings import Coupling
from graph_energy.data.dense import DenseGraph
from graph_energy.losses.base import LossOutput
from graph_energy.losses.transport import TransportLoss
from graph_energy.noise.distributions import NoiseDistribution
from graph_energy.paths.mixture import MixturePath

__all__ = ["Objective", "TransportObjective", "bind_objective"]


class Objective(ABC):
    """What the training loop optimises: ``objective(model, x_1, generator, step=...) -> LossOutput``.

    Attributes:
        second_order: the loss differentiates a gradient of the model (``create_graph=True``), so the
            trainer keeps autograd on while it validates (the default; set ``False`` for a loss of
            plain energies).
    """

    second_order: bool = True

    @abstractmethod
    def __call__(self, model, x_1: DenseGraph, generator: torch.Generator, *, step: int = 0) -> LossOutput:
        """The loss of one micro-batch.

        Args:
            model: the energy network ``DenseGraph (B, ...) -> (B,)`` (possibly DDP-wrapped).
            x_1: data batch, one-hot ``x (B, N, dx)``, ``e (B, N, N, de)``, on the model's device.
            generator: CPU generator; all randomness of the objective comes from it.
            step: the optimisation step (completed updates) this loss is for.
        """

    @property
    def validation_objective(self) -> Objective:
        """The objective whose loss is reported as ``val/loss`` (default: this one)."""
        return self


class TransportObjective(Objective):
    """``L_T`` of METHOD.md §2 for a data batch ``x_1``.

    Draws noise graphs with the data's node counts, pairs them with the data (``coupling``), samples
    ``x_t`` on ``path`` and evaluates ``loss``. All randomness comes from one CPU ``generator``.
    """

    def __init__(self, noise: NoiseDistribution, coupling: Coupling, path: MixturePath | None = None,
                 loss: TransportLoss | None = None) -> None:
        self.noise = noise
        self.coupling = coupling
        self.path = path if path is not None else MixturePath()
        self.loss = loss if loss is not None else TransportLoss()

    def __call__(self, model, x_1: DenseGraph, generator: torch.Generator, *, step: int = 0) -> LossOutput:
        device = x_1.x.device
        x_0 = self.noise.sample(x_1.num_nodes.cpu(), generator, max_nodes=x_1.max_nodes)
        x_0 = self.coupling(x_0, x_1.to(torch.device("cpu")), generator).to(device)
        return self.loss(model, self.path.sample(x_0, x_1, generator))


def bind_objective(built: Any, **collaborators: Any) -> Objective:
    """The :class:`Objective` of an instantiated objective config.

    Args:
        built: an :class:`Objective`, or a factory (a ``_partial_`` config: a class or function still
            missing its run-time arguments).
        collaborators: the run-time pieces on offer (e.g. ``spec``, ``stats``, ``noise``); a factory
            receives those its signature names (all of them if it takes ``**kwargs``), unless its
            config already set them.
    Raises:
        TypeError: ``built`` is neither, or the factory does not return an :class:`Objective`.
    """
    if isinstance(built, Objective):
        return built
    if not callable(built):
        raise TypeError(f"objective config built a {type(built).__name__}, not an Objective; point "
                        "objective._target_ at a graph_energy.training.Objective subclass")
    params = _parameters(built)
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    bound = built.keywords if isinstance(built, functools.partial) else {}
    kwargs = {k: v for k, v in collaborators.items() if (takes_all or k in params) and k not in bound}
    out = built(**kwargs)
    if not isinstance(out, Objective):
        name = getattr(built, "func", built)
        raise TypeError(f"objective factory {getattr(name, '__qualname__', name)!r} returned a "
                        f"{type(out).__name__}, not an Objective; derive it from graph_energy.training.Objective")
    return out


def _parameters(factory: Any) -> dict[str, inspect.Parameter]:
    """Parameters of a factory; a class is read from its ``__init__`` (a mixin's ``__new__`` hides it)."""
    fn = factory.func if isinstance(factory, functools.partial) else factory
    if inspect.isclass(fn):
        return dict(list(inspect.signature(fn.__init__).parameters.items())[1:])
    return dict(inspect.signature(fn).parameters)
