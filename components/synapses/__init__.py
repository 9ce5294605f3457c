"""Synaptic units and crossbar layers.

Public API::

    from components.synapses import (SynapseParams, CrossbarLayer, LayerEnergy,
                                     WEIGHT_INCREASING_POLARITY, UNITS)

Units: ``pair`` (the paper's two opposite memristors, default), ``differential``
(G1 − G2 into a virtual-ground/transimpedance node), ``bridge`` (Kim/Adhikari
four-memristor bridge), ``reference`` (one memristor minus a reference column).
Equations, orientations and approximations: docs/synapses.md.
"""

from .layer import WEIGHT_INCREASING_POLARITY, CrossbarLayer, LayerEnergy
from .params import UNITS, SynapseParams

__all__ = ["CrossbarLayer", "LayerEnergy", "SynapseParams", "UNITS", "WEIGHT_INCREASING_POLARITY"]
