"""The repair phase: a last MH phase for the chains that end a sampler with an exact term not yet zero.

Scaffold requests (:mod:`graph_energy.samplers.inpaint`) and any target with the exact ``valid`` term
(``conf/terms/valid.yaml``) get it: the chains that end invalid, over-valent or disconnected keep taking
MH steps on the same target until those terms are zero or the cap runs out; the others skip it.
"""

from __future__ import annotations

from collections.abc import Sequence

from graph_energy.samplers.phases import Phase, Sampler

__all__ = ["REPAIR_TERMS", "repair_for", "with_repair"]


def with_repair(sampler: Sampler, steps: int, terms: Sequence[str], name: str = "repair",
                beta_prop: float | None = 1.0) -> Sampler:
    """``sampler`` with a last phase that keeps mixing the chains whose ``terms`` are not yet zero.

    The phase's kernel is a :class:`~graph_energy.samplers.DiscreteLangevinMH` at the final ``β_mh`` of
    the sampler's last MH phase (``β_mh = 1`` where it has none), with that phase's
    :class:`~graph_energy.samplers.LangevinProposal` flattened to ``beta_prop`` (``None``: unchanged).
    A chain still invalid after mixing sits where the model's gradient favours the edit that breaks it
    (e.g. a second bond on a fixed atom with one free valence), so a proposal sharpened by that gradient
    rarely offers the repair; a flatter one does (C1=CCCC1, 9 atoms, 50 samples: validity 0.96 at the
    mixing phase's β_prop = 4, 1.00 at 1; the MH test keeps either exact).
    Its :class:`~graph_energy.samplers.TermSwitch` checks ``terms`` only, so a target term that is
    never exactly zero (a quadratic property target) does not hold chains there. ``steps = 0`` (or a
    sampler that already has a phase called ``name``) returns ``sampler`` unchanged.
    """
    from graph_energy.samplers.mixing import DiscreteLangevinMH, LangevinProposal
    from graph_energy.samplers.switch import TermSwitch

    if int(steps) <= 0 or name in sampler.names:
        return sampler
    mh = [p.kernel for p in sampler.phases if isinstance(p.kernel, DiscreteLangevinMH)]
    proposal, beta = (mh[-1].proposal, mh[-1].beta_mh.final()) if mh else (LangevinProposal(), 1.0)
    if beta_prop is not None and isinstance(proposal, LangevinProposal):
        proposal = LangevinProposal(beta_prop, proposal.lambda_x, proposal.lambda_e)
    phase = Phase(name, DiscreteLangevinMH(proposal, beta), int(steps), TermSwitch(list(terms)))
    return Sampler([*sampler.phases, phase])


#: Terms that are exactly zero on a good state, which a repair phase waits for (any other term is left out).
REPAIR_TERMS = ("valid", "valence", "connected")


def repair_for(sampler, terms: Sequence, steps: int, trusted: bool = False):
    """``sampler`` (a ``Sampler`` or anything :func:`~graph_energy.samplers.build_sampler` takes) with a
    :func:`with_repair` phase on the terms among ``terms`` named in :data:`REPAIR_TERMS`; unchanged
    (not even built) when there is none or ``steps`` is 0."""
    checked = [t.name for t in terms if getattr(t, "name", None) in REPAIR_TERMS]
    if not (int(steps) > 0 and checked):
        return sampler
    if not isinstance(sampler, Sampler):
        from graph_energy.samplers.build import build_sampler

        sampler = build_sampler(sampler, trusted=trusted)
    return with_repair(sampler, int(steps), checked)
