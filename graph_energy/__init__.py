"""graph_energy: Graph Energy Matching (GEM), an energy-based generative model for graphs.

    >>> import graph_energy as ge
    >>> model = ge.load("qm9")                  # the bundled QM9 model  # doctest: +SKIP
    >>> samples = model.sample(100, seed=0)     # doctest: +SKIP
    >>> model.score(["CCO"])                    # doctest: +SKIP
    >>> ge.evaluate(samples.smiles, dataset="qm9", protocol="digress")  # doctest: +SKIP
    >>> model.sample(100, terms=["logp_window"])   # property terms (graph_energy.terms)  # doctest: +SKIP
    >>> ge.compose(model_a, model_b).sample(100)   # product of experts  # doctest: +SKIP

The names below come from :mod:`graph_energy.api` and are imported on first use, so
``import graph_energy`` stays fast (no torch import).
"""

__version__ = "0.1.0"

_API = ("load", "evaluate", "compose", "GEMModel", "Samples", "bundled_model_path", "BUNDLED_MODELS")

__all__ = ["__version__", *_API]


def __getattr__(name):
    if name in _API:
        from graph_energy import api

        return getattr(api, name)
    raise AttributeError(f"module 'graph_energy' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
