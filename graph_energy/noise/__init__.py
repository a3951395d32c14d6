"""Source distributions over graphs of given sizes (uniform, marginal)."""

from graph_energy.noise.distributions import CategoricalNoise, MarginalNoise, NoiseDistribution, UniformNoise

__all__ = ["NoiseDistribution", "CategoricalNoise", "UniformNoise", "MarginalNoise"]
