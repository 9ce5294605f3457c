"""Run the exported chip in ngspice and compare it with mssim's own numbers for the same step.

Quantities (one row each in ``compare.csv``): ``J0``, ``J1``, every neuron
output at both sampling instants (``o{l}_{j}@J0``, ``o{l}_{j}@J1``) and every
device's resistance at the end of the step (``R{l}_{i}_{j}_M{1|2}``).

``rel_err = |mssim − ngspice| / max(|mssim|, floor)``; the floors (the absolute
tolerance for quantities near zero) are 1e-3·v_sat for neuron outputs and
1e-3·j_scale for J (1 mV and 1 mV with the shipped scenarios); resistances
need none.
"""

from __future__ import annotations

import copy
import csv
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mssim.errors import SimulationError

from ..spice import find_ngspice, parse_ascii_raw

REL_FLOOR = 1e-3


@dataclass
class Comparison:
    """Rows ``(quantity, mssim, ngspice, rel_err)`` and bookkeeping."""

    rows: list[tuple[str, float, float, float]]
    wall_ngspice_s: float
    extra: dict

    @property
    def worst(self) -> tuple[str, float, float, float]:
        return max(self.rows, key=lambda r: r[3])

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["quantity", "mssim", "ngspice", "rel_err"])
            for q, a, b, e in self.rows:
                w.writerow([q, f"{a:.12g}", f"{b:.12g}", f"{e:.6g}"])


def run_ngspice(cir: Path, raw: Path, *, timeout: float = 600.0) -> tuple[dict, float, str]:
    """Run ``ngspice -b -r raw cir`` (ASCII raw); returns (vectors, wall seconds, log).

    Raises ``SimulationError`` with a one-line reason if ngspice is missing or fails.
    """
    exe = find_ngspice()
    if not exe or not (os.path.isfile(exe) or shutil.which(exe)):
        where = f" (MSSIM_NGSPICE={exe})" if exe else ""
        raise SimulationError(f"ngspice not found{where}; install the Debian package 'ngspice' or set MSSIM_NGSPICE")
    env = dict(os.environ, SPICE_ASCIIRAWFILE="1")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([exe, "-b", "-r", str(raw), str(cir)], capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=str(cir.parent))
    except subprocess.TimeoutExpired:
        raise SimulationError(f"ngspice did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise SimulationError(f"ngspice could not be started ({exe}: {exc.strerror})") from None
    wall = time.perf_counter() - t0
    log = proc.stdout + proc.stderr
    low = log.lower()
    if proc.returncode != 0 or not raw.exists() or "timestep too small" in low:
        reason = next((ln.strip() for ln in log.splitlines() if "error" in ln.lower() or "too small" in ln.lower()),
                      f"exit status {proc.returncode}")
        raise SimulationError(f"ngspice failed: {reason}")
    with open(raw) as fh:
        vecs = parse_ascii_raw(fh.read())
    if "time" not in vecs:
        raise SimulationError("ngspice failed: no time vector in its output")
    return vecs, wall, log


def _at(vecs: dict, name: str, t: float) -> float:
    return float(np.interp(t, vecs["time"], vecs[name.lower()]))


def resistances_from_u(arr, u: np.ndarray) -> np.ndarray:
    """Resistances (ohm) the device array would read with normalised states ``u`` (a copy is used)."""
    a = copy.deepcopy(arr)
    a.x = a.params.from_u(np.clip(u, 0.0, 1.0))
    return a.resistance()


def compare(chip, trace, info, vecs: dict, wall: float) -> Comparison:
    """Rows of the comparison between the trace (mssim) and ngspice's vectors."""
    spec = chip.spec
    vs = spec.neuron_params.v_sat
    ep = spec.error_params
    j_scale = ep.sum_gain * ep.k_sq * ep.sub_gain ** 2 * vs ** 2
    rows = []

    def add(q, a, b, floor):
        a, b = float(a), float(b)
        if a == b:  # also two open devices (infinite resistance)
            err = 0.0
        elif not (np.isfinite(a) and np.isfinite(b)):
            err = float("inf")
        else:
            err = abs(a - b) / max(abs(a), floor)
        rows.append((q, a, b, err))

    add("J0", trace.j0, _at(vecs, "v(sho)", trace.t_j0 + 1e-12), REL_FLOOR * j_scale)
    add("J1", trace.j1, _at(vecs, "v(j)", trace.t_j1), REL_FLOOR * j_scale)
    for tag, t, ref in (("J0", trace.t_j0, trace.o_j0), ("J1", trace.t_j1, trace.o_j1)):
        for l, names in enumerate(info.o_nodes):
            for j, name in enumerate(names):
                add(f"o{l}_{j}@{tag}", ref[l][j], _at(vecs, f"v({name})", t), REL_FLOOR * vs)
    t_end = trace.t_end
    for l, (xb, sn) in enumerate(zip(chip.crossbars, info.state_nodes)):
        arr = xb.device_array
        k, n_in, n_out = sn.shape
        u = np.empty(arr.n)
        for s in range(k):
            idx = xb.device_indices(s)
            for i in range(n_in):
                for j in range(n_out):
                    u[idx[i, j]] = _at(vecs, f"v({sn[s, i, j]})", t_end)
        r_sp = resistances_from_u(arr, u)
        for s in range(k):
            idx = xb.device_indices(s)
            for i in range(n_in):
                for j in range(n_out):
                    add(f"R{l}_{i}_{j}_M{s + 1}", trace.r_end[l][s, i, j], r_sp[idx[i, j]], 0.0)
    j0s, j1s = _at(vecs, "v(sho)", trace.t_j0 + 1e-12), _at(vecs, "v(j)", trace.t_j1)
    extra = {"dJ_mssim": trace.j1 + trace.j_offset - trace.j0, "dJ_ngspice": j1s + trace.j_offset - j0s}
    return Comparison(rows, wall, extra)
