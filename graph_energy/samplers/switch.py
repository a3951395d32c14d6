"""Phase switches and the per-size calibration of the energy switch (METHOD.md §3.2).

A chain leaves transport when its model energy reaches the typical energy of real data of its node
count (a per-size quantile of held-out data energies, estimated in
:mod:`graph_energy.samplers.thresholds`), when it has arrived (no improving edit), or at the
phase's step cap.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from graph_energy.config import Configurable, target_name, to_config
from graph_energy.samplers.kernels import ChainView, ConfigRepr
from graph_energy.samplers.thresholds import Calibration, calibrate_thresholds, data_energies

__all__ = ["Calibration", "calibrate_thresholds", "data_energies", "Switch", "EnergySwitch", "TermSwitch", "SwitchReason"]

log = logging.getLogger(__name__)


class SwitchReason:
    """Codes stored per chain in ``switch_reason``."""

    NONE, THRESHOLD, ARRIVED, CAP = 0, 1, 2, 3
    NAMES = {0: "none", 1: "threshold", 2: "arrived", 3: "cap"}


class Switch(ConfigRepr, Configurable):
    """Ends a phase for a chain before the phase's step cap (the cap itself is :attr:`Phase.max_steps`).

    The driver asks :meth:`fired` before the phase's first step and after every step; a chain whose
    kernel reports *arrival* at propose time moves on at once if ``on_arrival`` (otherwise it idles,
    without energy evaluations, until the cap). This base class only switches on arrival.

    Args:
        on_arrival: move an arrived chain to the next phase within the same driver step.
    """

    def __init__(self, on_arrival: bool = True) -> None:
        self.on_arrival = bool(on_arrival)

    @property
    def uses_calibration(self) -> bool:
        """Whether :meth:`init_state` reads per-size thresholds (a :class:`Calibration`)."""
        return False

    def init_state(self, state: ChainView, calibration: Calibration | None = None) -> dict[str, Tensor]:
        """Per-chain state at the start of a run; ``calibration`` (given at call time) overrides the
        switch's own."""
        return {}

    def fired(self, state: ChainView, data: dict[str, Tensor]) -> Tensor:
        """``(B,)`` bool: chains whose phase ends now (``data``: what :meth:`init_state` returned)."""
        return torch.zeros(state.graph.batch_size, dtype=torch.bool, device=state.graph.x.device)


class EnergySwitch(Switch):
    """A chain moves on once its *model* energy is at or below the typical energy of data of its size.

    Args:
        calibration: per-size thresholds (a :class:`Calibration`, its dict, or ``None``). Without one
            (here or at call time) the energy criterion never fires (a warning is logged once if ``energy``).
            Not part of the switch's config (:func:`~graph_energy.config.to_config` leaves it out).
        energy: use the energy criterion.
        on_arrival: switch a chain with no improving edit at once (otherwise it idles, without energy
            evaluations, until the step cap, as the reference does).
        margin: added to every threshold (positive = switch earlier).
    """

    def __init__(self, calibration: Calibration | dict | None = None, energy: bool = True,
                 on_arrival: bool = True, margin: float = 0.0) -> None:
        super().__init__(on_arrival)
        self.calibration = Calibration.from_dict(calibration) if isinstance(calibration, dict) else calibration
        if self.calibration is not None and not isinstance(self.calibration, Calibration):
            raise TypeError(f"calibration must be a Calibration or its dict, got {type(calibration).__name__}")
        self.energy, self.margin = bool(energy), float(margin)
        self._warned = False

    @property
    def uses_calibration(self) -> bool:
        return self.energy

    def thresholds(self, num_nodes: Tensor, calibration: Calibration | None = None) -> Tensor:
        """``(B,)`` float64 thresholds; ``-inf`` where the energy criterion is off."""
        cal = calibration if calibration is not None else self.calibration
        if not self.energy or cal is None:
            if self.energy and not self._warned:
                log.warning("energy switch requested but no calibration given; chains switch on arrival or "
                            "at the step cap only (run gem-calibrate or pass a calibration)")
                self._warned = True
            return torch.full(num_nodes.shape, float("-inf"), dtype=torch.float64, device=num_nodes.device)
        return cal.threshold_for(num_nodes) + self.margin

    def init_state(self, state: ChainView, calibration: Calibration | None = None) -> dict[str, Tensor]:
        return {"threshold": self.thresholds(state.graph.num_nodes, calibration)}

    def fired(self, state: ChainView, data: dict[str, Tensor]) -> Tensor:
        return state.eval.model_energy.double() <= data["threshold"]

    def to_config(self) -> dict:
        # thresholds belong to a checkpoint (or a calibration file), not to the sampler's config
        return {"_target_": target_name(self),
                **{k: to_config(v) for k, v in self._config_args.items() if k != "calibration"}}

    def __repr__(self) -> str:
        cal = None if self.calibration is None else f"q={self.calibration.quantile}"
        return (f"EnergySwitch(energy={self.energy}, on_arrival={self.on_arrival}, margin={self.margin}, "
                f"calibration={cal})")


class TermSwitch(Switch):
    """A chain moves on once the extra energy terms it is checked against are satisfied.

    With flat-bottom windows, bounds and hard constraints (:mod:`graph_energy.terms`) a term's value
    is ``0`` inside its window, so "satisfied" means every checked weighted term value is at most
    ``tol``. Used as the switch of a phase that keeps mixing only the chains still outside their
    windows (``conf/sampler/constrained.yaml``): chains already inside pass the phase at once, the
    others keep taking MH steps on the same target until they are inside or reach the phase's cap.

    Args:
        terms: names of the terms to check (``None``: every term except the model energy). A name
            the target does not have is an error at the first check.
        tol: largest weighted term value that counts as satisfied.
        on_arrival: as in :class:`Switch` (MH kernels never report arrival).
    """

    def __init__(self, terms: list[str] | None = None, tol: float = 0.0, on_arrival: bool = True) -> None:
        super().__init__(on_arrival)
        if terms is not None and (isinstance(terms, str) or not all(isinstance(t, str) for t in terms)):
            raise TypeError(f"TermSwitch terms must be a list of term names or null, got {terms!r}")
        self.terms = None if terms is None else list(terms)
        self.tol = float(tol)

    def fired(self, state: ChainView, data: dict[str, Tensor]) -> Tensor:
        values = state.eval.terms
        names = list(values) if self.terms is None else self.terms
        missing = [n for n in names if n not in values]
        if missing:
            raise KeyError(f"TermSwitch checks terms {missing} but the target has {sorted(values)}; "
                           "name terms that are passed to the sampler (or terms: null for all)")
        ok = torch.ones(state.graph.batch_size, dtype=torch.bool, device=state.graph.x.device)
        for n in names:
            v = values[n]
            ok = ok & (v.double() <= self.tol)   # NaN (never expected) counts as not satisfied
        return ok

    def __repr__(self) -> str:
        return f"TermSwitch(terms={self.terms}, tol={self.tol})"
