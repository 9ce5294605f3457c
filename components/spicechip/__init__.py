"""SPICE export of a whole chip and one training step, cross-checked in ngspice (docs/spice.md).

* :mod:`.trace` -- :func:`mssim_step_trace`: mssim's own numbers for one step (the only
  module that reads them out of a training run);
* :mod:`.netlist` -- :func:`chip_netlist`: the complete ngspice netlist of the built chip
  with that step's stimulus;
* :mod:`.check` -- running ngspice and the comparison (``compare.csv``);
* :mod:`.cli` -- ``mssim spice``.
"""

from .check import Comparison, compare, run_ngspice
from .netlist import chip_netlist
from .trace import StepTrace, mssim_step_trace

__all__ = ["Comparison", "StepTrace", "chip_netlist", "compare", "mssim_step_trace", "run_ngspice"]
