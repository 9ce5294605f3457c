import os

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_sessionstart(session):
    """In CI the ngspice cross-checks must run, never skip: refuse to start without ngspice."""
    if os.environ.get("CI"):
        from components.spice import find_ngspice

        if find_ngspice() is None:
            raise pytest.UsageError("CI: the ngspice binary is required for the cross-checks (apt-get install ngspice)")
