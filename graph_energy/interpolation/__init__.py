"""Geodesic interpolation between two molecules: node alignment on common slots, then a low-energy path of
single edits (minimax beam search on the learned energy), compared with the same edits in a random order.

    >>> from graph_energy.interpolation import interpolate                     # doctest: +SKIP
    >>> res = interpolate(model, spec, "CCO", "CC(=O)N")                       # doctest: +SKIP
    >>> res.path.smiles, res.path.max_energy, res.naive.max_energy             # doctest: +SKIP
"""

from graph_energy.interpolation.align import (
    ABSENT,
    Alignment,
    align,
    edit_distance,
    exact_edit_distance,
    pad_graph,
)
from graph_energy.interpolation.geodesic import Interpolation, interpolate
from graph_energy.interpolation.path import (
    Edit,
    InterpolationPath,
    PathState,
    apply_edit,
    can_apply,
    edits_between,
    minimax_path,
    naive_path,
    state_energies,
)

__all__ = ["Interpolation", "interpolate", "ABSENT", "Alignment", "align", "edit_distance", "exact_edit_distance", "pad_graph", "Edit",
           "InterpolationPath", "PathState", "apply_edit", "can_apply", "edits_between", "minimax_path",
           "naive_path", "state_energies"]
