"""The sampler as data: an ordered list of phases, each a kernel, a step budget and a switch.

    Sampler([Phase("transport", GreedyTransport(2), 100, EnergySwitch()),
             Phase("mixing", DiscreteLangevinMH(LangevinProposal(4.0, 3.0, 2.5), [0.78, 7.0, 100]), 200)])

A chain runs the phases in order. It leaves a phase when the phase's switch fires (checked before
the phase's first step and after every step), when its kernel reports arrival at propose time and
the switch moves arrived chains on, or at the phase's step cap; after the last phase it is done.
The driver (:func:`graph_energy.samplers.sample`) runs every phase's chains in one loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from graph_energy.config import Configurable
from graph_energy.samplers.kernels import ConfigRepr, Kernel
from graph_energy.samplers.mixing import DiscreteLangevinMH
from graph_energy.samplers.switch import EnergySwitch, Switch
from graph_energy.samplers.transport import GreedyTransport

__all__ = ["Phase", "Sampler"]


class Phase(ConfigRepr, Configurable):
    """One phase of a :class:`Sampler`.

    Args:
        name: unique within the sampler (the key of its step counts and of config paths such as
            ``phases.<name>.kernel.beta_mh``).
        kernel: the phase's :class:`~graph_energy.samplers.kernels.Kernel`.
        max_steps: step cap per chain (0 skips the phase).
        switch: ends the phase early (``None``: only the cap ends it).
    """

    def __init__(self, name: str, kernel: Kernel, max_steps: int, switch: Switch | None = None) -> None:
        if not isinstance(name, str) or not name or "." in name or name.lstrip("-").isdigit():
            raise ValueError(f"phase name must be a non-empty word without dots (e.g. 'mixing'), got {name!r}")
        if not isinstance(kernel, Kernel):
            raise TypeError(f"phase {name!r}: kernel must be a Kernel (e.g. DiscreteLangevinMH), "
                            f"got {type(kernel).__name__}")
        if switch is not None and not isinstance(switch, Switch):
            raise TypeError(f"phase {name!r}: switch must be a Switch (e.g. EnergySwitch) or null, "
                            f"got {type(switch).__name__}")
        if int(max_steps) < 0:
            raise ValueError(f"phase {name!r}: max_steps must be >= 0, got {max_steps}")
        self.name, self.kernel, self.max_steps, self.switch = name, kernel, int(max_steps), switch


def default_phases() -> list[Phase]:
    """The library's fallback: reference transport (225 single edits) and 1000 MH steps at ``β_mh = 1``."""
    return [Phase("transport", GreedyTransport(), 225, EnergySwitch()), Phase("mixing", DiscreteLangevinMH(), 1000)]


class Sampler(ConfigRepr, Configurable):
    """Phases run in order (see the module docstring); built from YAML by ``_target_``.

    Args:
        phases: :class:`Phase` objects (or their keyword dicts); default :func:`default_phases`.
    """

    def __init__(self, phases: Sequence[Phase | Mapping] | None = None) -> None:
        items = default_phases() if phases is None else list(phases)
        self.phases = [p if isinstance(p, Phase) else Phase(**dict(p)) for p in items]
        if not self.phases:
            raise ValueError("a sampler needs at least one phase")
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phase names must be unique, got {names}")
        self._config_args["phases"] = list(self.phases)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.phases)

    def phase(self, name: str) -> Phase:
        """The phase called ``name``."""
        for p in self.phases:
            if p.name == name:
                return p
        raise KeyError(f"no phase named {name!r}; this sampler has {list(self.names)}")

    @property
    def max_steps(self) -> int:
        """Upper bound on driver steps (the sum of the phases' caps)."""
        return sum(p.max_steps for p in self.phases)

    @property
    def uses_calibration(self) -> bool:
        """Whether a switch reads per-size thresholds."""
        return any(p.switch is not None and p.switch.uses_calibration for p in self.phases)

    @property
    def needs_calibration(self) -> bool:
        """A switch reads per-size thresholds but was built without any (pass one at call time)."""
        return any(p.switch is not None and p.switch.uses_calibration and getattr(p.switch, "calibration", None) is None
                   for p in self.phases)

    def __repr__(self) -> str:
        parts = []
        for p in self.phases:
            until = f" until {p.switch!r}" if p.switch is not None else ""
            parts.append(f"{p.name}: {p.kernel!r} x{p.max_steps}{until}")
        return f"Sampler({'; '.join(parts)})"
