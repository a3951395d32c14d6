"""The ``terms`` group of ``gem-sample``: extra target terms from the composed config, and their metadata.

    gem-sample terms=[logp_window] terms.logp_window.lo=1.5           # a preset of conf/terms/, overridden
    gem-sample terms=[no_nn,qed_min]                                   # several presets
    gem-sample '+terms.logp={property:logp,target:2.0,scale:0.5}'      # a term written inline
    gem-sample +terms.expert.ckpt=runs/ring/checkpoints/last.pt        # a second model (product of experts)
"""

from __future__ import annotations

import logging

__all__ = ["sampling_terms", "terms_metadata", "term_presets"]

log = logging.getLogger("graph_energy.sample")


def term_presets() -> list[str]:
    """Names of the presets of ``conf/terms/``."""
    from pathlib import Path

    return sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "conf" / "terms").glob("*.yaml"))


def sampling_terms(cfg: dict, loaded) -> list:
    """The terms of ``cfg["terms"]`` (name -> node), built (the config is the user's own), bound to the
    checkpoint's vocabulary and, with ``check_term_ranges``, checked against the training split's ranges."""
    from graph_energy.terms import build_terms

    node = cfg.get("terms") or {}
    terms = build_terms(node, loaded.spec, trusted=True, device=str(cfg.get("device") or "cpu"))
    if terms and cfg.get("check_term_ranges", True):
        _check_ranges(terms, loaded.config.get("dataset"))
    for t in terms:
        log.info("target term %r", t)
    return terms


def _check_ranges(terms: list, dataset) -> None:
    from graph_energy.terms import PropertyTerm
    from graph_energy.terms.ranges import check_term_ranges

    smiles = []
    if dataset and any(isinstance(t, PropertyTerm) for t in terms):
        from graph_energy.data.datasets import DatasetConfig

        try:
            smiles = DatasetConfig.parse(dataset).split_smiles("train")
        except (ValueError, FileNotFoundError, ImportError, OSError) as err:
            log.info("term ranges not checked: the training split cannot be read (%s)", err)
    check_term_ranges(terms, smiles, "the training split")


def terms_metadata(terms: list, cfg: dict) -> dict:
    """What goes into ``summary.json``: each term's name, kind, weight and settings, and the config as given."""
    from graph_energy.cli._config import json_safe
    from graph_energy.terms import describe_terms

    return {"terms": describe_terms(terms), "terms_config": json_safe(dict(cfg.get("terms") or {}))}
