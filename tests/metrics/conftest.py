import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own metrics cache and in-process execution (fast, no spawned pools)."""
    monkeypatch.setenv("GEM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GEM_EVAL_JOBS", "1")
