"""The Python API: load a trained GEM model, sample molecules, score molecules, evaluate samples.

    >>> import graph_energy as ge
    >>> model = ge.load("qm9")                        # the bundled QM9 model  # doctest: +SKIP
    >>> samples = model.sample(1000, seed=0)          # doctest: +SKIP
    >>> samples.summary["validity"]                   # doctest: +SKIP
    0.97...
    >>> model.score(["CCO", "c1ccoc1"])               # model energies, lower = more data-like  # doctest: +SKIP
    array([...], dtype=float32)
    >>> report = ge.evaluate(samples.smiles, dataset="qm9", protocol="digress")  # doctest: +SKIP
    >>> print(report.to_markdown())                   # doctest: +SKIP

Everything a model needs (weights, vocabulary, size histogram, switch calibration) comes from one
checkpoint file: a training checkpoint from ``gem-train`` or a bundle made by
``experiments/bundle_model.py`` (the shipped ``graph_energy/assets/<name>.pt``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["BUNDLED_MODELS", "bundled_model_path", "load", "GEMModel", "Samples", "evaluate", "compose"]

log = logging.getLogger(__name__)

#: Bundled model names -> file name under ``graph_energy/assets/``.
BUNDLED_MODELS = {"qm9": "qm9.pt"}
_ASSETS = Path(__file__).resolve().parent / "assets"
_SAMPLER_CONFS = Path(__file__).resolve().parent / "conf" / "sampler"

_REASONS = {
    "invalid_smiles": "RDKit cannot parse it; check the SMILES string",
    "empty": "it has no heavy atoms",
    "radical": "it has radical electrons, which the model's graphs cannot represent",
    "kekulize": "RDKit cannot kekulize it (the model stores Kekulé bonds)",
}


def bundled_model_path(name: str = "qm9") -> Path:
    """Path of a model shipped with the package (``FileNotFoundError`` naming the fix if it is absent)."""
    key = str(name).lower()
    if key not in BUNDLED_MODELS:
        raise ValueError(f"no bundled model named {name!r}; bundled: {sorted(BUNDLED_MODELS)}, "
                         "or pass the path of a checkpoint")
    path = _ASSETS / BUNDLED_MODELS[key]
    if not path.is_file():
        raise FileNotFoundError(
            f"the bundled {key} model ({path.name}) is not installed with this copy of graph_energy. Train one "
            f"with `gem-train experiment={key}`, bundle it with `python experiments/bundle_model.py "
            f"<run_dir>/checkpoints/last.pt graph_energy/assets/{path.name}`, or load a checkpoint by path: "
            f"ge.load('<run_dir>/checkpoints/last.pt') / gem-sample ckpt=<path>")
    return path


def load(name_or_path: str | os.PathLike = "qm9", device: str | torch.device = "cpu",
         use_ema: bool = True) -> GEMModel:
    """Load a bundled model by name (``"qm9"``) or any checkpoint / bundle by path.

    Example:
        >>> model = load("qm9")                                   # doctest: +SKIP
        >>> model = load("runs/train/<run>/checkpoints/last.pt")  # doctest: +SKIP
    """
    from graph_energy.training.checkpoint import load_energy_model

    if isinstance(name_or_path, str) and name_or_path.lower() in BUNDLED_MODELS \
            and not Path(name_or_path).exists():
        path = bundled_model_path(name_or_path)
    else:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {path}; pass a file written by gem-train or "
                                    f"experiments/bundle_model.py, or a bundled name {sorted(BUNDLED_MODELS)}")
    loaded = load_energy_model(path, use_ema=use_ema, map_location=device)
    return GEMModel(loaded, path, device)


@dataclass
class Samples:
    """Molecules drawn by :meth:`GEMModel.sample`.

    Attributes:
        smiles: canonical SMILES per sample, ``None`` where the graph is not a valid molecule.
        energies: ``(n,)`` float energy of each final graph (model energy plus any extra terms).
        num_nodes: ``(n,)`` int heavy-atom count each chain was run at.
        valid: ``(n,)`` bool, the graph decodes to a sanitisable molecule.
        diagnostics: one dict per sample: ``<phase>_steps`` for every phase (``transport_steps`` and
            ``mixing_steps`` always), ``switch_step`` (steps in the first phase when the chain left it,
            -1 if it never did), ``switch_reason``, ``accepted`` (MH acceptances), ``evaluations``
            (energy+gradient evaluations).
        summary: run figures (validity, uniqueness, molecules/s, acceptance rate, mean steps, ...).
        result: the sampler's full :class:`~graph_energy.samplers.SampleResult` (final graphs included).
    """

    smiles: list[str | None]
    energies: np.ndarray
    num_nodes: np.ndarray
    valid: np.ndarray
    diagnostics: list[dict]
    summary: dict
    result: Any = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.smiles)

    @property
    def valid_smiles(self) -> list[str]:
        """SMILES of the valid samples, in order (duplicates kept)."""
        return [s for s in self.smiles if s is not None]

    def records(self) -> list[dict]:
        """One plain dict per sample (SMILES, validity, energy and the diagnostics), e.g. for pandas."""
        return self.result.records()

    def save_image(self, path: str | os.PathLike, max_mols: int = 48, mols_per_row: int = 6) -> int:
        """PNG grid of the first ``max_mols`` valid samples; returns the number drawn (needs RDKit drawing)."""
        from graph_energy.chem.draw import save_grid_image

        legends = [f"E={e:.2f}" for e in self.energies]
        return save_grid_image(self.smiles, path, max_mols=max_mols, mols_per_row=mols_per_row, legends=legends)

    @classmethod
    def from_result(cls, result) -> Samples:
        from graph_energy.samplers.switch import SwitchReason

        diag = []
        for b in range(len(result)):
            d = {f"{name}_steps": int(steps[b]) for name, steps in result.phase_steps.items()}
            d.setdefault("transport_steps", 0)
            d.setdefault("mixing_steps", 0)
            d.update(switch_step=int(result.switch_step[b]),
                     switch_reason=SwitchReason.NAMES[int(result.switch_reason[b])],
                     accepted=int(result.accepted[b]), evaluations=int(result.evaluations[b]))
            diag.append(d)
        return cls(smiles=list(result.smiles), energies=result.energy.detach().cpu().numpy(),
                   num_nodes=result.num_nodes.cpu().numpy(), valid=result.valid.numpy(), diagnostics=diag,
                   summary=result.summary(), result=result)


class GEMModel:
    """A trained energy model with its vocabulary (``spec``), training statistics and switch calibration.

    Build it with :func:`load`. Attributes: ``model`` (the ``torch.nn.Module``, eval mode), ``spec``
    (:class:`~graph_energy.data.MolecularSpec`), ``stats`` (:class:`~graph_energy.data.DatasetStats`),
    ``config`` (training config), ``calibration`` (energy-switch thresholds or ``None``), ``path``, ``step``.
    """

    def __init__(self, loaded, path: Path, device: str | torch.device = "cpu") -> None:
        from graph_energy.samplers import Calibration

        self.model = loaded.model
        self.spec = loaded.spec
        self.stats = loaded.stats
        self.config = loaded.config
        self.extras = loaded.extras
        self.step = loaded.step
        self.path = Path(path)
        self.device = torch.device(device)
        cal = loaded.extras.get("calibration")
        self.calibration = Calibration.from_dict(cal) if cal else None

    def __repr__(self) -> str:
        return (f"GEMModel({self.path.name}, step={self.step}, atoms={list(self.spec.atom_types)}, "
                f"max_nodes={self.spec.max_nodes}, calibrated={self.calibration is not None})")

    # ------------------------------------------------------------------ sampling
    def sampler(self, sampler: str | os.PathLike | Mapping | Any = "default"):
        """The :class:`~graph_energy.samplers.Sampler` a :meth:`sample` call would use (calibration attached).

        ``sampler`` is a preset name (``"default"``, ``"paper"``, ``"greedy"``, ``"mixing"``:
        ``conf/sampler/<name>.yaml``), ``"checkpoint"`` (the sampler stored by ``gem-calibrate
        write_checkpoint=true``), a YAML file path, a config dict, or a ``Sampler``. Files and the
        checkpoint may only name library classes (or ones allowed with
        :func:`graph_energy.config.allow_targets`); a dict or ``Sampler`` from your own code may name any.
        For a discrete flow-matching checkpoint (:attr:`kind` ``"dfm"``) ``"default"`` means ``"ctmc"``.
        """
        import yaml

        from graph_energy.samplers import Sampler, build_sampler
        from graph_energy.samplers.kinds import DEFAULT_SAMPLERS, check_sampler_kind

        if isinstance(sampler, str) and sampler == "default":
            sampler = DEFAULT_SAMPLERS[self.kind]  # "ctmc" for a discrete flow-matching checkpoint
        trusted = False
        if isinstance(sampler, Sampler):
            cfg, trusted = sampler, True
        elif isinstance(sampler, Mapping):
            cfg, trusted = dict(sampler), True
        elif isinstance(sampler, str) and sampler == "checkpoint":
            cfg = self.extras.get("sampler")
            if cfg is None:
                raise ValueError(f"{self.path.name} stores no tuned sampler; use sampler='default' or run "
                                 f"gem-calibrate ckpt={self.path} write_checkpoint=true")
        elif isinstance(sampler, (str, os.PathLike)):
            named = _SAMPLER_CONFS / f"{sampler}.yaml"
            path = named if isinstance(sampler, str) and named.is_file() else Path(sampler).expanduser()
            if not path.is_file():
                have = sorted(p.stem for p in _SAMPLER_CONFS.glob("*.yaml"))
                raise ValueError(f"unknown sampler {str(sampler)!r}; use one of {have + ['checkpoint']}, "
                                 "a YAML file, a config dict or a Sampler")
            cfg = yaml.safe_load(path.read_text())
        else:
            raise TypeError(f"sampler must be a name, path, dict or Sampler; got {type(sampler).__name__}")
        built = build_sampler(cfg, self.calibration, trusted=trusted)
        check_sampler_kind(built, self.kind)
        if built.needs_calibration:
            log.warning("%s has no energy-switch calibration; chains switch on arrival or at the step cap "
                        "(call model.calibrate() or run gem-calibrate)", self.path.name)
        return built

    def sample(self, n: int = 1000, seed: int = 0, num_nodes: int | Sequence[int] | None = None,
               sampler: str | os.PathLike | Mapping | Any = "default", batch_size: int = 256,
               progress: bool = False, extra_terms: Sequence = (), num_threads: int | None = 1,
               terms: Sequence = (), scaffold: str | Sequence[str] | None = None,
               connect: bool | None = None, repair: int = 400) -> Samples:
        """Draw ``n`` molecules; the same ``seed`` (and settings) gives the same molecules.

        Bit-for-bit repeats need the same torch CPU thread count (``num_threads``).

        Args:
            n: number of molecules (invalid graphs included, as ``None`` SMILES).
            seed: seed of the sampler's random generator.
            num_nodes: heavy atoms per molecule: ``None`` (the training size histogram), an int, or an
                inclusive range ``[lo, hi]`` drawn uniformly; at most ``spec.max_nodes``.
            sampler: ``"default"`` (energy switch, multi-edit transport, short annealed mixing),
                ``"paper"`` (225 transport + 1000 MH steps), ``"checkpoint"``, a YAML path, a dict or a Sampler;
                ``"ctmc"`` (the default of a discrete flow-matching checkpoint).
            batch_size: chains run together.
            progress: show a progress bar.
            extra_terms: additional :class:`~graph_energy.samplers.EnergyTerm` s (guidance, constraints).
            num_threads: torch CPU threads while sampling (restored afterwards; ``None``: leave as is). One
                thread is fastest for molecule-sized graphs on small CPUs and makes repeats bit-exact.
            terms: extra target terms ``E_θ + Σ_k w_k·P_k`` (:mod:`graph_energy.terms`): term objects,
                preset names (``"logp_window"``, ``conf/terms/``) or config dicts such as
                ``{"name": "logp", "property": "logp", "lo": 2, "hi": 3}``; they are bound to this model's
                vocabulary and recorded in ``summary["terms"]``.
            scaffold: keep a substructure fixed and sample only the rest (SMILES or SMARTS):
                ``"c1ccncc1"`` (scaffold: any of its atoms may gain bonds), ``"[*]c1ccncc1"`` (decorate:
                only at the ``*`` attachment points), ``["[*]C1CC1", "[*]C(=O)O"]`` or a dotted SMILES
                (link: the free atoms join the fragments). ``num_nodes`` is the total size; ``None``
                draws it from the training sizes at least as large as the scaffold.
            connect: with ``scaffold``, favour single molecules (an exact connectivity term); default:
                on when the scaffold has several fragments.
            repair: the cap of a last ``repair`` phase: extra MH steps, on the same target, for the chains
                that end invalid (:func:`graph_energy.samplers.repair.with_repair`; 0: none). It runs where
                the target has an exact validity, valence or connectivity term: always with ``scaffold``
                (which adds them), otherwise when ``terms`` include ``"valid"``; chains that end valid skip it.

        Example:
            >>> s = model.sample(8, seed=1, num_nodes=9)   # doctest: +SKIP
            >>> s.smiles[:2], s.energies[:2], s.diagnostics[0]["switch_reason"]  # doctest: +SKIP
            >>> s = model.sample(100, terms=[{"name": "no_nn", "property": "smarts:[#7]~[#7]", "hi": 0,
            ...                               "hard": True}])   # doctest: +SKIP
            >>> s = model.sample(50, num_nodes=9, scaffold="c1ccncc1")   # every sample contains pyridine  # doctest: +SKIP
        """
        from graph_energy.samplers import generate

        if int(n) < 1 or int(batch_size) < 1:
            raise ValueError(f"n and batch_size must be >= 1, got n={n}, batch_size={batch_size}")
        if isinstance(num_nodes, (list, tuple)) and len(num_nodes) == 1:
            num_nodes = int(num_nodes[0])
        all_terms = list(extra_terms)
        if terms:
            from graph_energy.terms import build_terms

            all_terms += build_terms(list(terms), self.spec, trusted=True, device=str(self.device))
        from graph_energy.samplers.kinds import sampling_inputs

        if all_terms and self.kind != "energy":
            raise ValueError("extra energy terms need a GEM energy model; this is a discrete flow-matching checkpoint")
        target, noise = sampling_inputs(self.model, self.spec, self.stats, self.config)
        before = torch.get_num_threads()
        if num_threads:
            torch.set_num_threads(int(num_threads))
        try:
            if scaffold is not None:
                result = self._sample_scaffold(scaffold, connect, n=int(n), batch_size=int(batch_size),
                                               repair_steps=int(repair),
                                               num_nodes=num_nodes, seed=int(seed), sampler=self.sampler(sampler),
                                               extra_terms=all_terms, progress=progress)
            else:
                from graph_energy.samplers.repair import repair_for

                chosen = repair_for(self.sampler(sampler), all_terms, int(repair), trusted=True)
                result = generate(target, self.spec, self.stats, n=int(n), batch_size=int(batch_size),
                                  num_nodes=num_nodes, seed=int(seed), sampler=chosen,
                                  extra_terms=all_terms, device=self.device, progress=progress, noise=noise)
        finally:
            torch.set_num_threads(before)
        samples = Samples.from_result(result)
        if all_terms:
            from graph_energy.terms import describe_terms

            samples.summary["terms"] = describe_terms(all_terms)
        return samples

    def _sample_scaffold(self, scaffold, connect, **kw):
        """:func:`~graph_energy.samplers.generate_inpainted` with the template parsed under this model's spec."""
        from graph_energy.samplers.inpaint import generate_inpainted, scaffold_part

        self._need_energy("sample(scaffold=...)")
        fixed, link, _ = scaffold_part(scaffold, self.spec, connect)
        return generate_inpainted(self.model, self.spec, fixed, self.stats, connect=link, device=self.device, **kw)

    def calibrate(self, split: str = "val", num_graphs: int = 1000, quantile: float = 0.5, dataset=None,
                  method="pooled"):
        """Compute energy-switch thresholds from held-out data graphs (the model's training dataset unless
        ``dataset`` is given) and use them for later :meth:`sample` calls. Returns the calibration.

        ``method``: ``"pooled"`` (per-size quantiles pooled across sizes where a size has few graphs),
        ``"per_size"`` (each size on its own) or a :class:`~graph_energy.samplers.ThresholdEstimator`."""
        from graph_energy.calibration import calibrate_thresholds, held_out_graphs

        self._need_energy("calibrate")
        ds = dataset or self.config.get("dataset")
        if not ds:
            raise ValueError(f"{self.path.name} records no dataset; pass dataset='qm9' or a dataset config dict")
        ds = {"name": ds} if isinstance(ds, str) else dict(ds)
        self.calibration = calibrate_thresholds(self.model, held_out_graphs(ds, self.spec, split, num_graphs),
                                                quantile, method=method)
        return self.calibration

    # ------------------------------------------------------------------ scoring
    def encode(self, smiles: str | Sequence[str]):
        """Dense one-hot batch (``x (B,N,dx)``, ``e (B,N,N,de)``) of ``smiles`` under the model's spec.

        Raises ``ValueError`` naming the first molecule that cannot be represented and why (unparsable,
        atom or bond outside the vocabulary, more heavy atoms than ``spec.max_nodes``, ...).
        """
        from graph_energy.chem.convert import ConversionError, graphs_to_labels, smiles_to_graph
        from graph_energy.data.dense import DenseGraph

        if isinstance(smiles, str):
            smiles = [smiles]
        smiles = list(smiles)
        if not smiles:
            raise ValueError("no molecules given; pass a SMILES string or a list of them")
        graphs, bad = [], []
        for i, s in enumerate(smiles):
            if not isinstance(s, str) or not s.strip():
                bad.append((i, s, "it is not a non-empty SMILES string"))
                continue
            try:
                graphs.append(smiles_to_graph(s.strip(), self.spec))
            except ConversionError as err:
                bad.append((i, s, self._explain(err)))
        if bad:
            i, s, why = bad[0]
            more = f" ({len(bad) - 1} more of the {len(smiles)} molecules fail too)" if len(bad) > 1 else ""
            raise ValueError(f"cannot score molecule #{i} {s!r}: {why}{more}")
        labels = graphs_to_labels(graphs)
        return DenseGraph.from_labels(labels.x, labels.e, labels.node_mask, self.spec.num_atom_types,
                                      self.spec.num_bond_types).to(self.device)

    def _explain(self, err) -> str:
        reason, detail = err.reason, str(err).split(": ", 1)[-1]
        if reason == "too_large":
            return f"{detail.split(' ')[0]} heavy atoms, but this model handles at most max_nodes={self.spec.max_nodes}"
        if reason == "unknown_atom":
            return (f"{detail.split(' not in')[0]} is outside the model's vocabulary "
                    f"(atom types {list(self.spec.atom_types)})")
        if reason == "unknown_bond":
            return f"{detail.split(' not in')[0]} is outside the model's vocabulary (bonds {list(self.spec.bond_types)})"
        return _REASONS.get(reason, detail)

    @property
    def kind(self) -> str:
        """``"energy"`` (a GEM energy model) or ``"dfm"`` (the discrete flow-matching baseline)."""
        from graph_energy.models.flow import model_kind

        return model_kind(self.model)

    def _need_energy(self, what: str) -> None:
        if self.kind != "energy":
            raise ValueError(f"{what}() needs a GEM energy model; {self.path.name} is a {self.kind} checkpoint "
                             "(a discrete flow-matching model has no energy)")

    @torch.no_grad()
    def score(self, smiles: str | Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Model energy of each molecule, ``(n,)`` float32 (lower = more like the training data).

        Raises ``ValueError`` for a molecule the model cannot represent; :meth:`score_report` scores any
        list (with per-row reasons), compares each molecule with held-out data of its size, ranks them
        and flags out-of-distribution ones.

        Example:
            >>> model.score(["CCO", "CC(=O)N"])      # doctest: +SKIP
            array([-3.1, -2.7], dtype=float32)
        """
        self._need_energy("score")
        graph = self.encode(smiles)
        out = [self.model(graph.index(slice(i, i + batch_size))).float().cpu()
               for i in range(0, graph.batch_size, int(batch_size))]
        return torch.cat(out).numpy()

    def score_reference(self, split: str = "val", max_per_size: int | None = 2000, ood_quantile: float = 0.99,
                        min_count: int = 50, dataset=None, use_cache: bool = True):
        """Per-size reference energies of held-out data (:class:`~graph_energy.scoring.ScoreReference`):
        quantiles, robust z-score scale and out-of-distribution threshold per node count, computed on
        ``split`` of the model's dataset once and cached under ``$GEM_CACHE_DIR/scoring``."""
        from graph_energy.scoring import reference_for_model

        self._need_energy("score_reference")
        ds = dataset or self.config.get("dataset")
        return reference_for_model(self.model, self.spec, ds, split, max_per_size, ood_quantile, min_count,
                                   use_cache=use_cache)

    @torch.no_grad()
    def score_report(self, smiles: str | Sequence[str], reference=None, batch_size: int = 256):
        """Score any list of SMILES (:class:`~graph_energy.scoring.ScoreReport`, one row per input).

        Each row: canonical SMILES, energy, the same-size reference median and threshold, percentile,
        size-normalised ``z``, ``ood`` flag, ``rank`` (1 = most data-like) or, for a molecule the model
        cannot represent, ``reason`` (element or charge outside the vocabulary, too many atoms, invalid
        SMILES, ...). Scores do not depend on the atom order of the input.

        Args:
            reference: a :class:`~graph_energy.scoring.ScoreReference`, the path of one saved with
                ``.save``, or ``None`` (:meth:`score_reference` on the validation split).

        Example:
            >>> rep = model.score_report(["CCO", "c1ccoc1", "CCBr"])             # doctest: +SKIP
            >>> [(r.smiles, r.rank, r.ood, r.reason) for r in rep.rows]            # doctest: +SKIP
        """
        from graph_energy.scoring import ScoreReference, score_smiles

        self._need_energy("score_report")
        if reference is None:
            reference = self.score_reference()
        elif isinstance(reference, (str, os.PathLike)):
            reference = ScoreReference.load(reference)
        return score_smiles(self.model, self.spec, smiles, reference, int(batch_size), self.device)

    def interpolate(self, a: str, b: str, beam_width: int = 8, invalid_penalty: float = 0.0, seed: int = 0):
        """A low-energy path of single edits from molecule ``a`` to ``b``
        (:class:`~graph_energy.interpolation.Interpolation`: ``.path``, ``.naive``, ``.save(out, spec)``).

        Example:
            >>> res = model.interpolate("CCO", "c1ccoc1")                          # doctest: +SKIP
            >>> res.path.smiles, res.path.max_energy, res.naive.max_energy         # doctest: +SKIP
        """
        from graph_energy.interpolation import interpolate

        self._need_energy("interpolate")
        return interpolate(self.model, self.spec, a, b, beam_width, invalid_penalty, seed, self.device)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, smiles: Sequence[str | None] | Samples, protocol: str = "digress", **kw):
        """:func:`evaluate` against this model's training dataset."""
        ds = self.config.get("dataset")
        if not ds:
            raise ValueError(f"{self.path.name} records no dataset; call ge.evaluate(smiles, dataset=...)")
        return evaluate(smiles, dataset=ds, protocol=protocol, **kw)


def compose(*parts, weights: Sequence[float] | None = None, temperatures: Sequence[float] | None = None,
            terms: Sequence = (), device: str | torch.device | None = None):
    """A weighted sum of energy models (product of experts, negation) plus extra terms, sampled like one model.

    ``parts`` are models (:class:`GEMModel`, checkpoint paths, bundled names), ``(model, weight)`` pairs and
    terms; see :func:`graph_energy.terms.composition.compose`. Returns a ``ComposedModel`` (a :class:`GEMModel`).

    Example:
        >>> both = compose(ring_model, nitrogen_model)                  # E_ring + E_N   # doctest: +SKIP
        >>> avoid = compose(ring_model, (base, 1.0), (nitrogen_model, -1.0))             # doctest: +SKIP
        >>> both.sample(100, seed=0, terms=["logp_window"])                                # doctest: +SKIP
    """
    from graph_energy.terms.composition import compose as _compose

    return _compose(*parts, weights=weights, temperatures=temperatures, terms=terms, device=device)


def evaluate(smiles: Sequence[str | None] | Samples, dataset: str | Mapping = "qm9", protocol: str = "digress",
             metrics: Sequence[str] | None = None, n_jobs: int | None = None, progress: bool = False):
    """Every metric of a published ``protocol`` for generated molecules; returns an
    :class:`~graph_energy.metrics.EvalReport` (``.metrics`` dict, ``.to_markdown()``, ``.to_json()``).

    Args:
        smiles: generated SMILES (``None``/empty = invalid sample) or a :class:`Samples`.
        dataset: dataset name (``qm9``, ``moses``, ``zinc250k``) or a dataset config dict; its splits
            are the references (test) and the novelty set (train).
        protocol: ``digress``, ``gdss`` or ``moses``.
        metrics: restrict to these metric groups (e.g. ``["basic"]`` skips FCD/NSPDK); default: all of
            the protocol's.

    Example:
        >>> report = evaluate(["CCO", "CC(=O)O", None], dataset="qm9", metrics=["basic"])  # doctest: +SKIP
        >>> report.metrics["validity"]                                                       # doctest: +SKIP
        0.6666666666666666
    """
    from graph_energy.metrics import Evaluator, Protocol

    if isinstance(smiles, Samples):
        smiles = smiles.smiles
    elif isinstance(smiles, str):
        smiles = [smiles]
    proto = Protocol.from_name(protocol) if isinstance(protocol, str) else protocol
    if metrics is not None:
        proto = replace(proto, metrics=tuple(metrics))
    evaluator = Evaluator.from_dataset(proto, dataset, n_jobs=n_jobs, progress=progress)
    return evaluator.evaluate(list(smiles))
