"""The per-coordinate mixture path x_t and its displacement target."""

from graph_energy.paths.mixture import MixturePath, PathSample

__all__ = ["MixturePath", "PathSample"]
