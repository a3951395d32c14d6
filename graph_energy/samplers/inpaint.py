"""Constrained generation: a fixed part (scaffold, fragment, fragments to link) and free atoms around it.

Each chain starts from noise with the fixed part written onto its first ``k`` nodes
(:func:`~graph_energy.samplers.frozen.fixed_start`); the frozen mask keeps those coordinates, so the
sampler moves only the free ones and every sample contains the fixed part by construction. Bonds
from a fixed atom to free atoms are limited to the valence the atom has left (``FixedPart.capacity``;
a frozen ring cannot rearrange its double bonds to make room), and a
:class:`~graph_energy.samplers.constraints.ValenceTerm` (exact, in the MH acceptance) discourages
over-valent atoms. For linking several fragments, ``connect=True`` adds a
:class:`~graph_energy.samplers.constraints.ConnectedTerm` so the chains prefer one molecule.

The exact validity term (``conf/terms/valid.yaml``: 0 for a molecule, 100 for any other graph) is added
too, and the sampler gets a last ``repair`` phase (:func:`~graph_energy.samplers.repair.with_repair`): the chains that end the given
sampler invalid, over-valent or (when linking) disconnected keep taking MH steps on the same target, at
the sampler's final ``β_mh``, until those terms are zero or ``repair_steps`` run out. A frozen scaffold
leaves transport fewer ways out of an over-valent state than free generation (a fixed atom cannot give
up a bond), which is where most invalid scaffold samples came from; chains that end valid pass the
phase at once and cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from graph_energy.samplers.constraints import ConnectedTerm, ValenceTerm
from graph_energy.samplers.frozen import FixedPart, fixed_start
from graph_energy.samplers.generate import generate, resolve_num_nodes
from graph_energy.samplers.phases import Sampler
from graph_energy.samplers.repair import repair_for
from graph_energy.samplers.state import SampleResult
from graph_energy.samplers.switch import Calibration
from graph_energy.samplers.target import EnergyTerm

__all__ = ["generate_inpainted", "inpaint_sizes"]


def inpaint_sizes(n: int, num_nodes, stats, generator: torch.Generator, min_nodes: int,
                  max_nodes: int | None = None, why: str = "") -> Tensor:
    """``(n,)`` node counts of at least ``min_nodes``: an int, an inclusive ``[lo, hi]`` range, or (``None``)
    the training size histogram restricted to sizes ``>= min_nodes``."""
    if num_nodes is None:
        if stats is None:
            raise ValueError("num_nodes=None needs the training size histogram; pass num_nodes=<int> or [lo, hi]")
        hist = torch.as_tensor(stats.num_nodes_hist, dtype=torch.float64).clone()
        hist[: int(min_nodes)] = 0
        if max_nodes is not None:
            hist[int(max_nodes) + 1:] = 0
        if hist.sum() <= 0:
            raise ValueError(f"the training data has no graphs with at least {min_nodes} nodes; pass num_nodes")
        return torch.multinomial(hist / hist.sum(), int(n), replacement=True, generator=generator).long()
    counts = resolve_num_nodes(n, num_nodes, stats, generator, max_nodes)
    if int(counts.min()) < int(min_nodes):
        raise ValueError(f"num_nodes={num_nodes!r} is too small: constrained samples need at least {min_nodes} nodes "
                         f"({why or 'the fixed atoms'}); pass num_nodes >= {min_nodes}")
    return counts


def scaffold_part(scaffold, spec, connect: bool | None = None):
    """The fixed part of a scaffold/decorate/link request: ``(fixed, connect, template)``.

    ``scaffold`` is a SMILES/SMARTS (or a list of fragments) parsed under ``spec``; ``connect=None``
    links the fragments (a connectivity term) exactly when there are several.
    """
    from graph_energy.chem.fragments import parse_template

    template = parse_template(scaffold, spec)
    fixed = FixedPart.with_capacity(template.x, template.e, template.attach, spec)
    return fixed, (template.num_fragments > 1 if connect is None else bool(connect)), template


def generate_inpainted(model, spec, fixed: FixedPart, stats=None, n: int = 1000, batch_size: int = 256,
                       num_nodes=None, seed: int = 0, sampler: Sampler | dict | None = None,
                       extra_terms: Sequence[EnergyTerm] = (), noise=None, connect: bool = False,
                       connect_weight: float = 4.0, valence_weight: float = 4.0, device: str | torch.device = "cpu",
                       progress: bool = False, calibration: Calibration | dict | None = None, trusted: bool = False,
                       on_batch: Callable[[SampleResult], None] | None = None, start_batch: int = 0,
                       workers: int = 1, valid_weight: float = 1.0, repair_steps: int = 400) -> SampleResult:
    """Generate ``n`` molecules that keep ``fixed`` on their first ``k`` nodes (module docstring).

    Args:
        fixed: the fixed atoms, bonds and attachment atoms (:class:`~graph_energy.samplers.frozen.FixedPart`;
            from a SMILES/SMARTS with :func:`graph_energy.chem.fragments.parse_template`).
        num_nodes: total heavy atoms: an int, ``[lo, hi]``, or ``None`` (training histogram, sizes ``>= k``).
        connect: add a connectivity term (linking fragments); ``connect_weight`` per extra component.
        valence_weight: weight of the valence term (0: none).
        valid_weight: weight of the exact validity term (``conf/terms/valid.yaml``; 0: none).
        repair_steps: cap of the ``repair`` phase (module docstring, :func:`~graph_energy.samplers.repair.with_repair`; 0: none).
        on_batch, start_batch, workers: as in :func:`~graph_energy.samplers.generate`.
        Other arguments as in :func:`~graph_energy.samplers.generate` (batch ``i`` runs from its own
        generator seeded with ``batch_seed(seed, i)``).
    """
    if n < 1 or batch_size < 1:
        raise ValueError(f"n and batch_size must be >= 1, got n={n}, batch_size={batch_size}")
    terms = list(extra_terms) + ([ConnectedTerm(connect_weight)] if connect else [])
    terms += [ValenceTerm(spec, valence_weight)] if valence_weight else []
    if valid_weight and not any(getattr(t, "name", None) == "valid" for t in terms):
        from graph_energy.terms import build_terms, preset

        terms += build_terms([{"name": "valid", **preset("valid", weight=float(valid_weight))}], spec, trusted=True)
    sampler = repair_for(sampler, terms, repair_steps, trusted=trusted)
    min_nodes = fixed.num_atoms + (1 if connect else 0)
    why = f"{fixed.num_atoms} fixed atoms" + (" plus one free atom to link the fragments" if connect else "")
    counts = inpaint_sizes(n, num_nodes, stats, torch.Generator().manual_seed(int(seed)), min_nodes,
                           getattr(spec, "max_nodes", None), why)
    return generate(model, spec, stats, n=n, batch_size=batch_size, seed=seed, sampler=sampler, extra_terms=terms,
                    noise=noise, device=device, progress=progress, on_batch=on_batch, calibration=calibration,
                    trusted=trusted, workers=workers, start_batch=start_batch, counts=counts,
                    start=lambda graphs: fixed_start(fixed, graphs, spec.bond_orders))
