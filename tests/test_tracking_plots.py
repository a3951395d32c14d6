"""Metric curves: read back from a run's files, drawn as PNGs at the end of a run and by gem-plot."""

import csv
import json

import pytest

pytest.importorskip("matplotlib")


def _write_metrics(folder, steps=12):
    folder.mkdir(parents=True, exist_ok=True)
    cols = ["step", "train/loss", "train/loss_x", "train/loss_e", "train/lr", "val/loss"]
    with open(folder / "metrics.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for s in range(1, steps + 1):
            w.writerow([s, 1.0 / s, 0.4 / s, 0.6 / s, 1e-3 * s, 1.1 / s if s % 4 == 0 else ""])


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_read_metrics_and_plot(tmp_path):
    from graph_energy.tracking import plot_metrics, read_metrics

    run = tmp_path / "run"
    _write_metrics(run)
    series = read_metrics(run)
    assert series["train/loss"][0] == (1, 1.0) and len(series["train/loss"]) == 12
    assert [s for s, _ in series["val/loss"]] == [4, 8, 12]  # empty cells are no points
    files = plot_metrics(run)
    assert [f.name for f in files] == ["loss.png", "metrics.png"] and all(_is_png(f) for f in files)
    with pytest.raises(ValueError, match="no metrics.csv or metrics.jsonl"):
        read_metrics(tmp_path / "empty")


def test_file_tracker_draws_curves_when_the_run_ends(tmp_path):
    from graph_energy.tracking import FileTracker

    t = FileTracker()
    t.open(tmp_path, start_step=0)
    for step in range(1, 6):
        t.log({"train/loss": 1.0 / step, "train/grad_norm": 0.1 * step}, step)
    t.close()
    assert _is_png(tmp_path / "loss.png") and _is_png(tmp_path / "metrics.png")
    off = tmp_path / "off"
    t = FileTracker(plots=False)
    t.open(off)
    t.log({"train/loss": 1.0}, 1)
    t.close()
    assert not (off / "loss.png").exists()


def test_gem_plot_draws_any_run_directory(tmp_path, capsys):
    from graph_energy.cli.plot import main

    run = tmp_path / "run"
    _write_metrics(run)
    assert main([f"run={run}", f"out={tmp_path / 'fig'}"]) == 0
    line = json.loads(capsys.readouterr().out.strip())
    assert line["files"] == [str(tmp_path / "fig" / "loss.png"), str(tmp_path / "fig" / "metrics.png")]
    (tmp_path / "bare").mkdir()
    assert main([f"run={tmp_path / 'bare'}"]) == 2
    assert "no metrics.csv" in capsys.readouterr().err
