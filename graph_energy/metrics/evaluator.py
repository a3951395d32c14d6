"""One evaluator for every protocol: SMILES in, :class:`EvalReport` out."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager

import numpy as np

from graph_energy.metrics import distributions as dist_mod
from graph_energy.metrics import fcd as fcd_mod
from graph_energy.metrics import moses as moses_mod
from graph_energy.metrics import nspdk as nspdk_mod
from graph_energy.metrics._util import cached_json, smiles_key
from graph_energy.metrics.protocol import Protocol
from graph_energy.metrics.reference import ReferenceSet, canonical_split, precomputed_statistics
from graph_energy.metrics.report import EvalReport
from graph_energy.metrics.validity import (
    novelty,
    uniqueness,
    uniqueness_at_k,
    valid_canonical,
    valid_canonical_all,
    validity,
    vun,
)

__all__ = ["Evaluator", "canonical_reference"]

log = logging.getLogger(__name__)

_CANON_VERSION = "canon-nonisomeric-v1"


def canonical_reference(smiles: Sequence[str], n_jobs: int | None = None, use_cache: bool = True,
                        progress: bool = False) -> list[str]:
    """Canonical SMILES of the valid entries of a reference set, cached under ``$GEM_CACHE_DIR/canonical``."""
    smiles = list(smiles)
    return cached_json("canonical", smiles_key(smiles, _CANON_VERSION), lambda: [c for c in valid_canonical(
        smiles, "strict", n_jobs=n_jobs, progress=progress) if c], use_cache=use_cache)


class Evaluator:
    """Computes every metric a protocol asks for, against fixed reference and training sets.

    Args:
        protocol: a :class:`Protocol` or its name (``digress``, ``gdss``, ``moses``).
        references: ``{split_name: SMILES}`` or a list of :class:`ReferenceSet`; the first is the
            primary reference (properties, atom/bond types).
        train: training SMILES for novelty (``None``: novelty and VUN are not computed).
        dataset: a name for the report and the published-baseline table (``custom`` otherwise).
        n_jobs: worker processes for the heavy per-molecule work (default ``$GEM_EVAL_JOBS`` or 2).
        use_cache: cache reference statistics under ``$GEM_CACHE_DIR`` (keyed by sha256 of SMILES).
        progress: show progress bars.
    """

    def __init__(self, protocol: Protocol | str, references: Mapping[str, Sequence[str]] | Sequence[ReferenceSet],
                 train: Sequence[str] | None = None, dataset: str = "custom", n_jobs: int | None = None,
                 use_cache: bool = True, progress: bool = False):
        self.protocol = Protocol.from_name(protocol) if isinstance(protocol, str) else protocol
        if isinstance(references, Mapping):
            references = [ReferenceSet(k, list(v)) for k, v in references.items()]
        self.references = list(references)
        if not self.references:
            raise ValueError("Evaluator needs at least one reference set")
        for ref in self.references:
            if len(ref) == 0 and not ref.precomputed:
                raise ValueError(f"reference set {ref.name!r} is empty; pass reference SMILES")
        self.train = None if train is None else list(train)
        self.dataset = str(dataset)
        self.n_jobs = n_jobs
        self.use_cache = use_cache
        self.progress = progress
        self._train_set: set[str] | None = None

    # ------------------------------------------------------------------ construction from data
    @classmethod
    def from_dataset(cls, protocol: Protocol | str, dataset, reference_file: str | None = None,
                     train_file: str | None = None, column: str | None = None, trusted: bool = False,
                     **kw) -> Evaluator:
        """Reference/train sets from a dataset's splits, or from files (``reference_file`` then
        replaces all protocol references with one set named ``reference``).

        ``dataset`` is anything :func:`graph_energy.data.load_dataset` accepts (name, config mapping,
        source); ``trusted=False`` for configs read from checkpoints. The report carries the source's
        name (``custom`` when both files are given). With ``protocol.moses_precomputed``, references
        use the statistics the source ships for their split, if any.
        """
        from graph_energy.data.datasets import DatasetConfig
        from graph_energy.metrics.io import read_smiles

        protocol = Protocol.from_name(protocol) if isinstance(protocol, str) else protocol
        ds = None if reference_file and train_file else DatasetConfig.parse(dataset, trusted=trusted)
        if reference_file:
            refs = [ReferenceSet("reference", read_smiles(reference_file, column))]
        else:
            refs = []
            for split in protocol.references:
                shipped = ds.source.reference_statistics(canonical_split(split)) if protocol.moses_precomputed else None
                pre = precomputed_statistics(shipped) if shipped is not None else {}
                refs.append(ReferenceSet(split, ds.split_smiles(canonical_split(split)), pre))
        train = read_smiles(train_file, column) if train_file else ds.split_smiles(canonical_split(protocol.train_split))
        return cls(protocol, refs, train=train, dataset=ds.source.name if ds is not None else "custom", **kw)

    # ------------------------------------------------------------------ cached reference pieces
    def _canonical_list(self, smiles: list[str], tag: str) -> list[str]:
        return canonical_reference(smiles, n_jobs=self.n_jobs, use_cache=self.use_cache, progress=self.progress)

    def train_set(self) -> set[str]:
        if self._train_set is None:
            self._train_set = set(self._canonical_list(self.train, "train")) if self.train is not None else set()
        return self._train_set

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, smiles: Sequence[str], source: str | None = None) -> EvalReport:
        """All metrics of the protocol for the generated ``smiles`` (one entry per sample)."""
        smiles = ["" if s is None else str(s) for s in smiles]
        if not smiles:
            raise ValueError("no samples to evaluate; pass at least one SMILES")
        p = self.protocol
        metrics: dict[str, float] = {}
        timings: dict[str, float] = {}
        warnings: list[str] = []
        n = len(smiles)
        if n < p.num_samples:
            warnings.append(f"sample count {n} is below the protocol's {p.num_samples}: FCD, NSPDK and "
                            "other sample-size dependent numbers are not comparable to published ones")

        @contextmanager
        def timed(name: str):
            t0 = time.perf_counter()
            yield
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0

        with timed("validity"):
            canon = valid_canonical_all(smiles, n_jobs=self.n_jobs, progress=self.progress)
            for rule, vals in canon.items():
                metrics[f"validity_{rule}"] = validity(vals)
            main = canon[p.validity_rule]
            metrics["validity"] = validity(main)
            metrics["uniqueness"] = uniqueness(main)
            for k in p.unique_at:
                metrics[f"unique@{k}"] = uniqueness_at_k(main, k)
        if self.train is not None:
            with timed("novelty"):
                train = self.train_set()
                metrics["novelty"] = novelty(main, train)
                metrics["vun"] = vun(main, train)
                metrics["vun_connected"] = vun(canon["connected"], train)
                metrics["vun_largest_fragment"] = vun(canon["largest_fragment"], train)
        valid = [c for c in main if c is not None]
        if not valid:
            warnings.append("no valid molecule: distribution metrics are undefined")
            return self._report(n, metrics, timings, warnings, source)
        if len(valid) < 2:
            warnings.append("fewer than 2 valid molecules: FCD and diversity metrics are undefined")

        if "fcd" in p.metrics and len(valid) >= 2:
            with timed("fcd"):
                gen_stats = fcd_mod.gaussian_stats(fcd_mod.chemnet_activations(valid, progress=self.progress))
                for ref in self.references:
                    ref_stats = ref.precomputed.get("fcd") or fcd_mod.reference_stats(
                        self._canonical_list(ref.smiles, ref.name), use_cache=self.use_cache, progress=self.progress)
                    metrics[f"fcd/{ref.name}"] = fcd_mod.frechet_distance(gen_stats, ref_stats)
        if "nspdk" in p.metrics:
            with timed("nspdk"):
                gen_emb = nspdk_mod.nspdk_mean_embedding(valid, n_jobs=self.n_jobs, progress=self.progress)
                for ref in self.references:
                    ref_emb = nspdk_mod.reference_embedding(ref.smiles, use_cache=self.use_cache,
                                                            n_jobs=self.n_jobs, progress=self.progress)
                    metrics[f"nspdk/{ref.name}"] = nspdk_mod._mmd(gen_emb, ref_emb)
        if "moses" in p.metrics:
            self._moses(valid, metrics, timed)
        if "properties" in p.metrics or "types" in p.metrics:
            with timed("distributions"):
                self._distributions(valid, metrics)
        return self._report(n, metrics, timings, warnings, source)

    def _moses(self, valid: list[str], metrics: dict, timed) -> None:
        kw = {"n_jobs": self.n_jobs, "progress": self.progress}
        with timed("moses_filters"):
            metrics["filters"] = moses_mod.filters(valid, **kw)
        with timed("moses_similarity"):
            gen_fps = moses_mod.fingerprints(valid, **kw)
            metrics["intdiv1"] = moses_mod.internal_diversity(gen_fps, 1)
            metrics["intdiv2"] = moses_mod.internal_diversity(gen_fps, 2)
            gen_frag = moses_mod.fragment_counts(valid, **kw)
            gen_scaf = moses_mod.scaffold_counts(valid, **kw)
            for ref in self.references:
                pre = ref.precomputed
                ref_fps = pre["fps"] if "fps" in pre else self._ref_fps(ref)
                metrics[f"snn/{ref.name}"] = moses_mod.snn(gen_fps, ref_fps)
                ref_frag = pre.get("frag") or self._ref_counts(ref, "frag", moses_mod.fragment_counts)
                ref_scaf = pre.get("scaf") or self._ref_counts(ref, "scaf", moses_mod.scaffold_counts)
                metrics[f"frag/{ref.name}"] = moses_mod.cosine_similarity(ref_frag, gen_frag)
                metrics[f"scaf/{ref.name}"] = moses_mod.cosine_similarity(ref_scaf, gen_scaf)

    def _ref_fps(self, ref: ReferenceSet) -> np.ndarray:
        from graph_energy.metrics._util import cached_npz

        key = smiles_key(ref.smiles, "morgan2-1024-v1")
        arr = cached_npz("fps", key, lambda: {"packed": np.packbits(moses_mod.fingerprints(
            ref.smiles, n_jobs=self.n_jobs, progress=self.progress), axis=1)}, use_cache=self.use_cache)
        return np.unpackbits(arr["packed"], axis=1)[:, :moses_mod.FP_BITS]

    def _ref_counts(self, ref: ReferenceSet, kind: str, fn) -> dict:
        key = smiles_key(ref.smiles, f"{kind}-counts-v1")
        return cached_json(kind, key, lambda: dict(fn(ref.smiles, n_jobs=self.n_jobs, progress=self.progress)),
                           use_cache=self.use_cache)

    def _distributions(self, valid: list[str], metrics: dict) -> None:
        p = self.protocol
        ref = self.references[0]
        pre_props = ref.precomputed.get("properties") or {}
        want_props = "properties" in p.metrics
        gen = dist_mod.molecule_distribution(valid, kekulize=p.kekulize, n_jobs=self.n_jobs,
                                             progress=self.progress, properties=want_props)
        ref_dist = dist_mod.reference_distribution(ref.smiles, kekulize=p.kekulize, use_cache=self.use_cache,
                                                   n_jobs=self.n_jobs, progress=self.progress,
                                                   properties=want_props and not pre_props)
        if pre_props:
            ref_dist.properties = {k: list(v) for k, v in pre_props.items()}
        if want_props:
            for k, v in dist_mod.property_distances(gen, ref_dist).items():
                metrics[f"w1_{k}/{ref.name}"] = v
        if "types" in p.metrics:
            for k, v in dist_mod.type_distances(gen, ref_dist).items():
                metrics[f"tv_{k}/{ref.name}"] = v

    def _report(self, n, metrics, timings, warnings, source) -> EvalReport:
        return EvalReport(protocol=self.protocol.name, dataset=self.dataset, num_samples=n, metrics=metrics,
                          references={r.name: len(r) for r in self.references},
                          train_size=len(self.train) if self.train is not None else 0,
                          protocol_config=self.protocol.to_dict(), timings=timings, warnings=warnings,
                          samples_source=source)
