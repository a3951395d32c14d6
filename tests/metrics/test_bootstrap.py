"""Bootstrap intervals: point values equal the plain metrics, intervals cover them, resampling is seeded."""

from __future__ import annotations

import numpy as np
import pytest

from graph_energy.metrics.bootstrap import (
    Interval,
    bootstrap_intervals,
    percentile_interval,
    sample_indicators,
    shifted_interval,
)
from graph_energy.metrics.validity import novelty, uniqueness, validity, vun

CANON = ["CCO", None, "CCO", "c1ccccc1", "CC", None, "CCN", "CC", "CCCl", "O"]
TRAIN = {"CC", "O", "CCCC"}


def test_indicators_reproduce_the_plain_metrics():
    ind = sample_indicators(CANON, TRAIN)
    assert ind["valid"].tolist() == [c is not None for c in CANON]
    assert ind["first"].tolist() == [True, False, False, True, True, False, True, False, True, True]
    assert ind["novel"].tolist() == [True, False, False, True, False, False, True, False, True, False]
    iv = bootstrap_intervals(CANON, TRAIN, n_boot=50, seed=0)
    assert iv["validity"].value == pytest.approx(validity(CANON))
    assert iv["uniqueness"].value == pytest.approx(uniqueness(CANON))
    assert iv["novelty"].value == pytest.approx(novelty(CANON, TRAIN))
    assert iv["vun"].value == pytest.approx(vun(CANON, TRAIN))
    for v in iv.values():
        assert isinstance(v, Interval) and v.low <= v.value <= v.high and v.n_boot == 50


def test_intervals_are_seeded_and_narrow_with_more_samples():
    rng = np.random.default_rng(0)
    small = [f"C{'C' * int(k)}" if rng.random() < 0.7 else None for k in rng.integers(0, 30, 100)]
    large = [f"C{'C' * int(k)}" if rng.random() < 0.7 else None for k in rng.integers(0, 30, 2000)]
    a = bootstrap_intervals(small, n_boot=100, seed=1)["validity"]
    assert a == bootstrap_intervals(small, n_boot=100, seed=1)["validity"]
    b = bootstrap_intervals(large, n_boot=100, seed=1)["validity"]
    assert (b.high - b.low) < (a.high - a.low)
    # a binomial proportion: the 95 % interval is about ±1.96·sqrt(p(1-p)/n)
    half = 1.96 * np.sqrt(b.value * (1 - b.value) / 2000)
    assert (b.high - b.low) / 2 == pytest.approx(half, rel=0.35)


def test_extra_metrics_see_the_valid_rows_of_each_resample():
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])     # one number per valid sample
    seen = []

    def mean_value(rows: np.ndarray) -> float:
        seen.append(rows)
        return float(values[rows].mean())

    iv = bootstrap_intervals(CANON, extra={"mean": mean_value}, n_boot=20, seed=0)
    assert iv["mean"].value == pytest.approx(values.mean())
    assert all(r.min() >= 0 and r.max() < 8 for r in seen)


def test_bad_input():
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_intervals(CANON, n_boot=0)
    with pytest.raises(ValueError, match="no samples"):
        bootstrap_intervals([])
    with pytest.raises(ValueError, match="level"):
        percentile_interval([1.0], level=1.5)
    assert np.isnan(percentile_interval([float("nan")])[0])


def test_evaluator_intervals_match_the_evaluator_point_values():
    from graph_energy.metrics import Evaluator, Protocol
    from graph_energy.metrics.bootstrap import evaluator_intervals

    gen = ["CCO", "OCC", "c1ccccc1", "CC.O", "C1CC", "xyz", "", "CCN", "CCCC.O", "CC(=O)O"]
    ref = ["CCO", "CCN", "CCC", "c1ccccc1O", "CC(=O)O", "OCCO", "CNC", "CCCl", "c1ccccc1", "CC(C)O"]
    p = Protocol("t", validity_rule="largest_fragment", metrics=("basic", "fcd", "nspdk"), num_samples=10)
    ev = Evaluator(p, {"test": ref}, train=["OCC", "CC"])
    m = ev.evaluate(gen).metrics
    iv = evaluator_intervals(ev, gen, n_boot=10, seed=0)
    for k in ("validity", "uniqueness", "novelty", "vun", "nspdk/test"):
        assert iv[k].value == pytest.approx(m[k], rel=1e-9, abs=1e-12), k
    assert iv["fcd/test"].value == pytest.approx(m["fcd/test"], rel=1e-6)
    assert iv["fcd/test"].low <= iv["fcd/test"].high


def test_shifted_interval_covers_a_distance_biased_upward_by_resampling():
    """The squared distance of a sample mean to the true mean is biased upward under resampling (repeats add
    variance): its percentile interval lies above the point value; the shifted one is around it."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 200))           # many dimensions, as ChemNet activations have
    canon = [f"C{i}" for i in range(300)]

    def dist(rows: np.ndarray) -> float:
        return float((x[rows].mean(0) ** 2).sum())

    plain = bootstrap_intervals(canon, extra={"d": dist}, n_boot=200, seed=0)["d"]
    fixed = bootstrap_intervals(canon, extra={"d": dist}, n_boot=200, seed=0, shifted=["d"])["d"]
    assert fixed.value == plain.value
    assert fixed.high - fixed.low == pytest.approx(plain.high - plain.low, rel=1e-6, abs=1e-9) or fixed.low == 0.0
    assert plain.low > plain.value * 1.2               # the bias this fixes, measured
    assert fixed.low <= fixed.value <= fixed.high
    assert shifted_interval([1.0, 2.0, 3.0], point=0.5) == (0.0, pytest.approx(1.45))
