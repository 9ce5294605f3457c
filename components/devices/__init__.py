"""Memristor device layer: HP, TEAM, VTEAM and Yakopcic models, vectorised.

Public API (docs/ARCHITECTURE.md, "Device layer contract")::

    from components.devices import (HPParams, TEAMParams, VTEAMParams, YakopcicParams,
                                    DeviceArray, preset, MODELS)

Sign convention: a positive voltage on a device's + terminal drives current into
it and moves the state toward OFF (resistance rises), as in TEAM.  See
docs/devices.md for equations, tolerances and the ngspice cross-checks.
"""

from .array import DeviceArray
from .params import (MODELS, PRESETS, DeviceParams, HPParams, TableParams, TEAMParams, VTEAMParams, YakopcicParams,
                     preset)

__all__ = ["DeviceArray", "DeviceParams", "HPParams", "MODELS", "PRESETS", "TEAMParams", "VTEAMParams",
           "TableParams", "YakopcicParams", "preset"]
