"""Energy networks and the energy/gradient oracle."""

from graph_energy.models.energy_eval import EnergyEval, EnergyModel, energy_and_grad, symmetrize_edge_grad

__all__ = ["EnergyEval", "EnergyModel", "energy_and_grad", "symmetrize_edge_grad"]
