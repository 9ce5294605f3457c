"""One exception hierarchy for everything mssim raises on purpose.

``MssimError`` is the root.  A user's mistake (bad parameter, bad scenario file,
bad wiring) is a ``ConfigError`` or ``WiringError``; the CLI prints its message on
one line and exits with status 2.  Anything else that escapes is a bug and shows a
traceback.
"""

from __future__ import annotations


class MssimError(Exception):
    """Root of every error mssim raises deliberately."""


class ConfigError(MssimError, ValueError):
    """A parameter, unit string, scenario value or CLI argument is invalid.

    Messages name the object and field, the offending value and the fix, for
    example ``TEAMParams.i_on: must be negative (got 8.9e-06); use i_on < 0``.
    """


class WiringError(MssimError):
    """A circuit cannot be compiled: unknown port, size/kind mismatch, undriven
    input, two drivers, or a zero-delay loop.  The message names the ports."""


class SimulationError(MssimError):
    """The simulation reached a state it cannot continue from (NaN, a device
    model evaluated outside its domain, a negative delay requested at run time)."""


def field_error(owner: str, field: str, reason: str, value: object, fix: str | None = None) -> ConfigError:
    """Build a ``ConfigError`` in the house format ``Owner.field: reason (got value)[; fix]``."""
    msg = f"{owner}.{field}: {reason} (got {value!r})"
    if fix:
        msg += f"; {fix}"
    return ConfigError(msg)
