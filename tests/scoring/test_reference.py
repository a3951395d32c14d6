"""Per-size score references: pooling of rare sizes, quantiles, thresholds, z-scores, plain-data round trip."""

import numpy as np
import pytest

from graph_energy.scoring import LEVELS, ScoreReference, build_reference


def synthetic(seed=0):
    """Sizes 3..9 with 2, 4, 10, 40, 200, 1000, 3000 graphs; energy mean 2 - 0.3 * (n - 3), std 1."""
    rng = np.random.default_rng(seed)
    counts = {3: 2, 4: 4, 5: 10, 6: 40, 7: 200, 8: 1000, 9: 3000}
    e, n = [], []
    for size, c in counts.items():
        e.append(rng.normal(2 - 0.3 * (size - 3), 1.0, c))
        n.append(np.full(c, size))
    return np.concatenate(e), np.concatenate(n)


def test_rare_sizes_pool_the_nearest_sizes():
    e, n = synthetic()
    ref = build_reference(e, n, max_nodes=10, min_count=50)
    assert ref.sizes[9].pooled == [9] and ref.sizes[9].count == 3000
    assert ref.sizes[7].pooled == [7] and ref.sizes[6].pooled == [5, 6]   # 40 + 10 (nearest: 5 before 7)
    assert ref.sizes[3].pooled == [3, 4, 5, 6] and ref.sizes[3].count == 56
    assert ref.sizes[1].pooled == [3, 4, 5, 6]                            # no data at all: nearest sizes
    assert ref.sizes[10].pooled == [9]
    assert sorted(ref.sizes) == list(range(1, 11))


def test_quantiles_threshold_and_z_match_numpy():
    e, n = synthetic()
    ref = build_reference(e, n, ood_quantile=0.95, min_count=50)
    e9 = e[n == 9]
    r = ref.sizes[9]
    np.testing.assert_allclose(r.values, np.quantile(e9, LEVELS))
    assert r.threshold == pytest.approx(np.quantile(e9, 0.95))
    iqr = np.quantile(e9, 0.75) - np.quantile(e9, 0.25)
    assert r.scale == pytest.approx(iqr / 1.349) and abs(r.scale - 1.0) < 0.06   # robust std of N(., 1)
    cmp = ref.compare(e9, n[n == 9])
    assert abs(cmp["ood"].mean() - 0.05) < 0.002          # the false-positive rate it was calibrated for
    assert abs(np.median(cmp["z"])) < 1e-9 and abs(np.median(cmp["percentile"]) - 0.5) < 0.002


def test_per_size_normalisation_removes_the_size_trend():
    e, n = synthetic()
    ref = build_reference(e, n)
    big = n >= 7
    cmp = ref.compare(e[big], n[big])
    medians = [np.median(cmp["z"][n[big] == s]) for s in (7, 8, 9)]
    raw = [np.median(e[n == s]) for s in (7, 8, 9)]
    assert raw[0] - raw[2] > 0.4 and max(abs(m) for m in medians) < 1e-9


def test_unscorable_rows_stay_nan_and_never_ood():
    e, n = synthetic()
    ref = build_reference(e, n)
    cmp = ref.compare(np.array([np.nan, 100.0, -100.0]), np.array([0, 9, 9]))
    assert np.isnan(cmp["z"][0]) and cmp["ood"].tolist() == [False, True, False]
    assert cmp["percentile"][1] == 1.0 and cmp["percentile"][2] == 0.0


def test_round_trip_and_bad_input(tmp_path):
    e, n = synthetic()
    ref = build_reference(e, n, source={"dataset": "toy"})
    ref.save(tmp_path / "ref.json")
    back = ScoreReference.load(tmp_path / "ref.json")
    assert back.to_dict() == ref.to_dict()
    with pytest.raises(ValueError, match="ood_quantile"):
        build_reference(e, n, ood_quantile=1.0)
    with pytest.raises(ValueError, match="non-empty"):
        build_reference([], [])
    with pytest.raises(FileNotFoundError, match="no score reference"):
        ScoreReference.load(tmp_path / "missing.json")
