"""Run ngspice in batch mode and read its output (generic; no device knowledge).

:func:`run_transient` takes a netlist *without* analysis or control cards plus
the transient settings and the vectors wanted, runs ``ngspice -b`` in a
temporary directory, and returns the vectors as numpy arrays (``"time"`` plus
one entry per requested expression).  Output is read from an ASCII raw file,
so every accepted time point is returned.

:func:`pwl` formats a piecewise-linear source.  :func:`find_ngspice` locates
the binary (``MSSIM_NGSPICE`` overrides the search).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from mssim.errors import ConfigError, SimulationError


def find_ngspice() -> str | None:
    """Path of the ngspice binary, or None."""
    return os.environ.get("MSSIM_NGSPICE") or shutil.which("ngspice")


def pwl(times, values) -> str:
    """Format a PWL source body ``PWL(t0 v0 t1 v1 ...)`` with full precision."""
    times = np.asarray(times, float)
    values = np.asarray(values, float)
    if times.shape != values.shape or times.ndim != 1 or times.size < 1:
        raise ConfigError("spice.pwl: times and values must be 1-D arrays of equal length")
    if np.any(np.diff(times) <= 0):
        raise ConfigError("spice.pwl: times must be strictly increasing")
    parts = [f"{t:.17g} {v:.17g}" for t, v in zip(times, values)]
    lines, line = [], "PWL("
    for p in parts:  # keep lines short; '+' continues a card
        if len(line) > 200:
            lines.append(line)
            line = "+ "
        line += p + " "
    return "\n".join(lines + [line.rstrip() + ")"])


@dataclass
class SpiceResult:
    """Vectors of one transient run plus bookkeeping."""

    vectors: dict
    wall_s: float
    log: str

    def __getitem__(self, name):
        return self.vectors[name.lower()]

    def at(self, name, t):
        """Vector ``name`` linearly interpolated at times ``t``."""
        return np.interp(t, self.vectors["time"], self.vectors[name.lower()])


def parse_ascii_raw(text: str) -> dict:
    """Parse an ngspice ASCII raw file (first plot) into {vector name (lower case): array}."""
    lines = text.splitlines()
    names, nvars, npts, i = [], None, None, 0
    while i < len(lines):
        ln = lines[i]
        low = ln.lower()
        if low.startswith("no. variables:"):
            nvars = int(ln.split(":")[1])
        elif low.startswith("no. points:"):
            npts = int(ln.split(":")[1])
        elif low.startswith("variables:"):
            for j in range(nvars):
                parts = lines[i + 1 + j].split()
                names.append(parts[1].lower())
            i += nvars
        elif low.startswith("values:"):
            i += 1
            break
        i += 1
    if nvars is None or npts is None or len(names) != nvars:
        raise SimulationError("ngspice: cannot read the raw file header")
    tokens = " ".join(lines[i:]).split()
    # each point: index, then nvars values
    data = np.empty((npts, nvars))
    pos = 0
    for p in range(npts):
        pos += 1  # point index
        for v in range(nvars):
            tok = tokens[pos]
            if "," in tok:  # complex: take the real part
                tok = tok.split(",")[0]
            data[p, v] = float(tok)
            pos += 1
    return {n: data[:, k] for k, n in enumerate(names)}


def run_transient(netlist: str, tstop: float, tstep: float | None = None, *, vectors=(), options: str = "",
                  tmax: float | None = None, uic: bool = True, timeout: float = 120.0,
                  binary: str | None = None) -> SpiceResult:
    """Run a transient analysis of ``netlist`` with ngspice in batch mode.

    Parameters
    ----------
    netlist : str
        Circuit cards (title line optional; no ``.tran``/``.end``).
    tstop, tstep, tmax : float
        Transient stop time, print step and maximum internal step (s).
    vectors : sequence of str
        Node voltages / currents to save, e.g. ``"v(s1)"``.  Empty = all.
    options : str
        Extra ``.options`` line content, e.g. ``"reltol=1e-6 method=gear"``.
    """
    exe = binary or find_ngspice()
    if not exe:
        raise SimulationError("ngspice not found; install the Debian package 'ngspice' or set MSSIM_NGSPICE")
    tstep = tstep if tstep is not None else tstop / 1000
    with tempfile.TemporaryDirectory(prefix="mssim_spice_") as d:
        cir = os.path.join(d, "circuit.cir")
        raw = os.path.join(d, "out.raw")
        body = netlist if netlist.lstrip().startswith("*") else "* mssim netlist\n" + netlist
        tran = f".tran {tstep:.17g} {tstop:.17g} 0 {tmax:.17g}" if tmax else f".tran {tstep:.17g} {tstop:.17g}"
        if uic:
            tran += " uic"
        save = f".save time {' '.join(vectors)}\n" if vectors else ""
        opts = f".options {options}\n" if options else ""
        text = f"{body.rstrip()}\n{opts}{save}{tran}\n.end\n"
        with open(cir, "w") as fh:
            fh.write(text)
        env = dict(os.environ, SPICE_ASCIIRAWFILE="1")
        t0 = time.perf_counter()
        proc = subprocess.run([exe, "-b", "-r", raw, cir], capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=d)
        wall = time.perf_counter() - t0
        log = proc.stdout + proc.stderr
        if proc.returncode != 0 or not os.path.exists(raw):
            tail = "\n".join(log.strip().splitlines()[-15:])
            raise SimulationError(f"ngspice failed (exit {proc.returncode}):\n{tail}")
        with open(raw) as fh:
            vecs = parse_ascii_raw(fh.read())
    if "time" not in vecs:
        raise SimulationError("ngspice: no time vector in the output")
    if "timestep too small" in log.lower():
        raise SimulationError("ngspice: timestep too small\n" + log[-2000:])
    return SpiceResult(vecs, wall, log)
