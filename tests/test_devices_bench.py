"""The device benchmark never crashes: an ngspice run past its timeout is reported as "> N s" with the
speed-up as a lower bound (the benchmark itself is deselected; this runs only its ngspice part)."""

from __future__ import annotations

import os
import sys

import pytest

from components.spice import find_ngspice

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))


@pytest.mark.ngspice
@pytest.mark.skipif(find_ngspice() is None, reason="ngspice not installed")
def test_ngspice_timeout_is_reported_not_raised(capsys):
    import bench_devices

    bench_devices.bench_ngspice(timeout=0.05)
    out = capsys.readouterr().out
    assert "> 0.05 s wall (timeout" in out and "speed-up >" in out
    assert out.count("ngspice, ") == 2
