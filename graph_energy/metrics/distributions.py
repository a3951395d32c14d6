"""Distribution distances between generated and reference molecules.

* properties (logP, QED, SA score, molecular weight): 1-Wasserstein distance between the two
  empirical distributions (``scipy.stats.wasserstein_distance``);
* atom types (element symbol with formal charge, e.g. ``N+``) and bond types (single/double/
  triple/aromatic, after kekulization when asked): total variation ``½ Σ |p − q|`` between the
  type frequencies pooled over all molecules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from rdkit import Chem
from scipy.stats import wasserstein_distance

from graph_energy.chem.properties import PROPERTIES, compute_properties
from graph_energy.metrics._util import cached_json, parallel_map, parse_smiles, smiles_key

__all__ = ["MolDistribution", "atom_type", "molecule_distribution", "total_variation",
           "property_distances", "type_distances", "reference_distribution"]

_CACHE_VERSION = "moldist-v1"


@dataclass
class MolDistribution:
    """Per-molecule property values and pooled atom/bond type counts of a set of molecules."""

    properties: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in PROPERTIES})
    atom_counts: Counter = field(default_factory=Counter)
    bond_counts: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"properties": self.properties, "atom_counts": dict(self.atom_counts),
                "bond_counts": dict(self.bond_counts)}

    @classmethod
    def from_dict(cls, d: dict) -> MolDistribution:
        return cls({k: list(v) for k, v in d["properties"].items()}, Counter(d["atom_counts"]),
                   Counter(d["bond_counts"]))


def atom_type(atom: Chem.Atom) -> str:
    """``"C"``, ``"N+"``, ``"O-"``, ``"N+2"``: element symbol with formal charge."""
    q = atom.GetFormalCharge()
    if q == 0:
        return atom.GetSymbol()
    sign = "+" if q > 0 else "-"
    return f"{atom.GetSymbol()}{sign}{abs(q) if abs(q) > 1 else ''}"


def _bond_name(bond: Chem.Bond) -> str:
    return str(bond.GetBondType()).lower()


def _dist_chunk(smiles: Sequence[str], kekulize: bool, properties: bool) -> list[dict]:
    out = []
    for s in smiles:
        mol = parse_smiles(s)
        if mol is None:
            continue
        props = compute_properties(mol) if properties else {}
        if kekulize:
            mol = Chem.Mol(mol)
            try:
                Chem.Kekulize(mol, clearAromaticFlags=True)
            except Exception:  # noqa: BLE001 - keep aromatic bonds if kekulization fails
                pass
        atoms = Counter(atom_type(a) for a in mol.GetAtoms())
        bonds = Counter(_bond_name(b) for b in mol.GetBonds())
        out.append({"p": props, "a": dict(atoms), "b": dict(bonds)})
    return out


def molecule_distribution(smiles: Sequence[str], kekulize: bool = False, n_jobs: int | None = None,
                          progress: bool = False, properties: bool = True) -> MolDistribution:
    """Properties (if ``properties``) and type counts of the parsable SMILES (others are skipped)."""
    fn = partial(_dist_chunk, kekulize=kekulize, properties=properties)
    rows = parallel_map(fn, list(smiles), n_jobs=n_jobs, chunk_size=1000, progress=progress,
                        desc="properties")
    dist = MolDistribution()
    for r in rows:
        for k, v in r["p"].items():
            dist.properties[k].append(v)
        dist.atom_counts.update(r["a"])
        dist.bond_counts.update(r["b"])
    return dist


def reference_distribution(smiles: Sequence[str], kekulize: bool = False, use_cache: bool = True,
                           n_jobs: int | None = None, progress: bool = False,
                           properties: bool = True) -> MolDistribution:
    """Cached :func:`molecule_distribution` of a reference set (key: sha256 of the SMILES)."""
    smiles = list(smiles)
    key = smiles_key(smiles, _CACHE_VERSION, f"kekulize={kekulize}", f"properties={properties}")
    d = cached_json("moldist", key,
                    lambda: molecule_distribution(smiles, kekulize, n_jobs, progress, properties).to_dict(),
                    use_cache=use_cache)
    return MolDistribution.from_dict(d)


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    """``½ Σ_k |p_k/Σp − q_k/Σq|`` over the union of keys; ``nan`` if either is empty."""
    sp, sq = sum(p.values()), sum(q.values())
    if sp <= 0 or sq <= 0:
        return float("nan")
    keys = set(p) | set(q)
    return 0.5 * float(sum(abs(p.get(k, 0) / sp - q.get(k, 0) / sq) for k in keys))


def property_distances(gen: MolDistribution, ref: MolDistribution) -> dict[str, float]:
    """W1 distance per property (``nan`` values dropped; ``nan`` if a side is empty)."""
    out = {}
    for name in PROPERTIES:
        a = np.asarray(gen.properties.get(name, []), dtype=np.float64)
        b = np.asarray(ref.properties.get(name, []), dtype=np.float64)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        out[name] = float(wasserstein_distance(a, b)) if len(a) and len(b) else float("nan")
    return out


def type_distances(gen: MolDistribution, ref: MolDistribution) -> dict[str, float]:
    """Total variation between atom-type and between bond-type frequencies."""
    return {"atom_types": total_variation(gen.atom_counts, ref.atom_counts),
            "bond_types": total_variation(gen.bond_counts, ref.bond_counts)}
