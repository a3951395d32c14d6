"""Pairing noise with data (independent, size-bucketed minibatch OT)."""

from graph_energy.coupling.couplings import Coupling, IndependentCoupling, OTCoupling, graph_signature

__all__ = ["Coupling", "IndependentCoupling", "OTCoupling", "graph_signature"]
