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

from .component import AnalogBlock, BuildContext, Component, Port  # noqa: E402
from .net import Net  # noqa: E402
from .circuit import Circuit, Simulation  # noqa: E402
from .probe import Probe, write_csv, write_npz, write_vcd  # noqa: E402

__all__ += ["AnalogBlock", "BuildContext", "Circuit", "Component", "Net", "Port", "Probe", "Simulation",
            "write_csv", "write_npz", "write_vcd"]
