"""graph_energy: Graph Energy Matching (GEM), an energy-based generative model for graphs."""

__version__ = "0.1.0"
