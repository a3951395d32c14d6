"""Switch thresholds on synthetic energies: the per-size rule, and pooling across sizes where a size
has few graphs (random-effects meta-regression on the node count, empirical-Bayes shrinkage)."""

import json
import math

import pytest
import torch

from graph_energy.samplers import Calibration, PerSizeQuantile, PooledQuantile
from graph_energy.samplers.thresholds import threshold_estimator

# QM9's validation counts per heavy-atom count in a 2,000-graph draw
COUNTS = {5: 2, 6: 6, 7: 43, 8: 270, 9: 1679}


def true_median(n: int) -> float:
    return 2.0 - 0.3 * (n - 5) - 0.05 * (n - 5) ** 2


def synthetic(counts=COUNTS, offsets=None, seed=0, sd=1.0):
    """Energies ``median(n) + offset(n) + N(0, sd²)`` (so the true per-size median is known)."""
    gen = torch.Generator().manual_seed(seed)
    energy, size = [], []
    for n, m in counts.items():
        base = true_median(n) + (offsets or {}).get(n, 0.0)
        energy.append(base + sd * torch.randn(m, generator=gen, dtype=torch.float64))
        size.append(torch.full((m,), n))
    return torch.cat(energy), torch.cat(size)


def test_per_size_is_the_empirical_quantile_and_leaves_out_rare_sizes():
    energy, size = synthetic()
    cal = PerSizeQuantile(min_count=3).fit(energy, size, 0.25)
    assert cal.method == "per_size" and sorted(cal.thresholds) == [6, 7, 8, 9]
    for n in (6, 7, 8, 9):
        assert cal.thresholds[n] == float(torch.quantile(energy[size == n], 0.25))
        assert cal.counts[n] == COUNTS[n]


def test_a_size_with_two_graphs_gets_the_fit_not_its_own_noisy_quantile():
    energy, size = synthetic()
    energy[size == 5] = torch.tensor([true_median(5) + 1.0, true_median(5) + 2.0], dtype=torch.float64)
    emp5 = float(torch.quantile(energy[size == 5], 0.5))
    cal = PooledQuantile().fit(energy, size, 0.5)  # min_count 5: the fit alone
    row = cal.details["per_size"][5]
    assert row["empirical"] == pytest.approx(emp5) and row["weight"] == 0.0 and cal.thresholds[5] == row["fit"]
    assert abs(cal.thresholds[5] - true_median(5)) < abs(emp5 - true_median(5)) - 0.5  # 0.8 vs 1.5 off
    assert cal.method == "pooled" and cal.counts == COUNTS
    # min_count 1: the two graphs count by their precision, which is low (large standard error)
    cal = PooledQuantile(min_count=1).fit(energy, size, 0.5)
    row = cal.details["per_size"][5]
    assert row["std_error"] > 10 * cal.details["per_size"][9]["std_error"]
    assert row["weight"] < 0.2 and abs(cal.thresholds[5] - row["fit"]) < 0.2 * abs(emp5 - row["fit"])


def test_with_many_graphs_the_threshold_is_the_empirical_quantile():
    energy, size = synthetic()
    cal = PooledQuantile().fit(energy, size, 0.5)
    row = cal.details["per_size"][9]
    assert row["std_error"] < 0.05
    assert abs(cal.thresholds[9] - float(torch.quantile(energy[size == 9], 0.5))) < 2 * row["std_error"]
    # sizes whose medians are far off any quadratic, each well measured: the data win
    many = {n: 800 for n in range(3, 10)}
    offsets = {n: (1.5 if n % 2 else -1.5) for n in many}
    energy, size = synthetic(many, offsets, seed=1)
    cal = PooledQuantile().fit(energy, size, 0.75)
    assert cal.details["tau"] > 1.0
    for n in many:
        emp = float(torch.quantile(energy[size == n], 0.75))
        assert cal.details["per_size"][n]["weight"] > 0.97
        assert abs(cal.thresholds[n] - emp) < 0.03


def test_pooled_recovers_the_true_quantiles_better_than_per_size():
    errors = {"per_size": [], "pooled": []}
    for seed in range(20):
        energy, size = synthetic(seed=seed)
        for name, est in (("per_size", PerSizeQuantile()), ("pooled", PooledQuantile())):
            cal = est.fit(energy, size, 0.5)
            errors[name].append(sum((cal.thresholds[n] - true_median(n)) ** 2 for n in (5, 6)))
    assert sum(errors["pooled"]) < 0.6 * sum(errors["per_size"])


def test_gaps_between_sizes_get_the_fit_and_the_calibration_round_trips(tmp_path):
    energy, size = synthetic({3: 100, 5: 100, 7: 100, 8: 50})
    cal = PooledQuantile().fit(energy, size, 0.5)
    assert sorted(cal.thresholds) == [3, 4, 5, 6, 7, 8] and cal.counts[4] == 0 and cal.counts[6] == 0
    assert cal.thresholds[4] == cal.details["per_size"][4]["fit"]
    assert abs(cal.thresholds[6] - true_median(6)) < 0.3
    assert PooledQuantile(fill_gaps=False).fit(energy, size, 0.5).thresholds.keys() == {3, 5, 7, 8}
    cal.save(tmp_path / "cal.json")
    assert Calibration.load(tmp_path / "cal.json") == cal
    assert json.loads((tmp_path / "cal.json").read_text())["method"] == "pooled"
    # a calibration written before methods existed reads as per_size
    old = Calibration.from_dict({"quantile": 0.5, "thresholds": {"5": 1.0}, "counts": {"5": 2}})
    assert old.method == "per_size" and old.details == {}


def test_single_size_and_degenerate_inputs():
    energy = torch.arange(10, dtype=torch.float64)
    size = torch.full((10,), 4)
    cal = PooledQuantile().fit(energy, size, 0.5)
    assert cal.thresholds == {4: 4.5} and cal.details["degree"] == 0
    assert math.isfinite(PooledQuantile().fit(torch.zeros(8, dtype=torch.float64), torch.tensor([3] * 4 + [4] * 4),
                                              0.5).thresholds[3])


def test_bad_input_names_the_fix():
    with pytest.raises(ValueError, match="unknown threshold method 'median'"):
        threshold_estimator("median")
    with pytest.raises(ValueError, match="quantile must be in"):
        PooledQuantile().fit(torch.zeros(3), torch.ones(3), 1.5)
    with pytest.raises(ValueError, match="one node count per energy"):
        PooledQuantile().fit(torch.zeros(3), torch.ones(2), 0.5)
    with pytest.raises(ValueError, match="NaN"):
        PerSizeQuantile().fit(torch.tensor([0.0, float("nan")]), torch.ones(2), 0.5)
    assert isinstance(threshold_estimator("per_size", min_count=3), PerSizeQuantile)
