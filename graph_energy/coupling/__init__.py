"""coupling."""
