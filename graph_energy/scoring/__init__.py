"""Scoring molecules with a trained energy: per-size reference quantiles from held-out data, size-normalised
scores, a ranking, an out-of-distribution flag, and per-molecule reasons for what a model cannot represent.

    >>> from graph_energy.scoring import reference_for_model, score_smiles          # doctest: +SKIP
    >>> ref = reference_for_model(model, spec, {"name": "qm9"})                      # doctest: +SKIP
    >>> report = score_smiles(model, spec, ["CCO", "c1ccoc1", "CCBr"], ref)          # doctest: +SKIP
    >>> [(r.smiles, r.rank, r.ood, r.reason) for r in report.rows]                   # doctest: +SKIP
"""

from graph_energy.scoring.held_out import held_out_energies, model_fingerprint, reference_for_model
from graph_energy.scoring.reference import LEVELS, ScoreReference, SizeReference, build_reference
from graph_energy.scoring.score import ScoreReport, ScoreRow, graph_energies, score_graphs, score_smiles

__all__ = ["ScoreReference", "SizeReference", "build_reference", "LEVELS", "ScoreReport", "ScoreRow",
           "score_smiles", "score_graphs", "graph_energies", "reference_for_model", "held_out_energies",
           "model_fingerprint"]
