"""mssim: discrete-event mixed-signal simulator of memristor neural networks
trained on-chip by weight simultaneous perturbation (WSP).

The engine (this package) knows nothing of devices: it provides integer time,
units, nets, the component protocol, the networkx netlist, seeded random
streams, probes and the CLI.  Device models and circuit blocks live in the
``components`` package and build on this public API only.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("mssim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"

from . import units
from .errors import ConfigError, MssimError, SimulationError, WiringError
from .rng import SeedTree

__all__ = ["ConfigError", "MssimError", "SeedTree", "SimulationError", "WiringError", "units", "__version__"]
