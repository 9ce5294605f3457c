"""Where can a pair of a device model work? Imbalance and reversion over the pair's operating points.

For a ``pair`` unit of one device model (default preset), at both devices' common state
``x0`` (``r_sum = 2·R(x0)``, weight 0) on a grid, and for each write topology and write voltage,
prints the design step's own measures (components/training/design.py):

* ``w_max``: the programmable weight range (±) at that ``r_sum``;
* ``imbalance``: net drift of the device states under a weight-increasing plus a
  weight-decreasing pulse over their total motion (> 0: toward OFF, i.e. the common mode falls in
  the Yakopcic ``x``; 0: the common mode holds);
* ``uniformity`` and ``reversion`` of :func:`~components.training.design.evenness` (reversion > 0:
  a pulse pulls a weight at ±0.5 of the range back toward 0 faster than it pushes it out, a weight
  decay under WSP's noisy updates).

The "Out of the box" section of docs/devices.md quotes its Yakopcic table::

    PYTHONPATH=. python benchmarks/pair_operating_points.py [--model yakopcic] [--v 1.0 2.0] \
        [--write-mid series ground] [--x0 0.2 0.3 ...]
    PYTHONPATH=. python benchmarks/pair_operating_points.py --spans --x0 0.45 --v 1.0 5.0

(``--spans``: the reversion at ±0.5·span of the range for the spans the design step tries,
:func:`~components.training.design.choose_weight_span`.)

``x0`` is the device state of the model's own variable for Yakopcic (1 = ON); for the other models
it is ``1 − u`` (u: the normalised state, 0 = ON).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    from components.synapses import SynapseParams
    from components.training import design as D
    from components.training.config import load
    from components.training.trainer import _params, device_params

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="yakopcic")
    ap.add_argument("--v", type=float, nargs="+", default=[1.0, 2.0], help="write voltages (V)")
    ap.add_argument("--write-mid", nargs="+", default=["series", "ground"], choices=("series", "ground"))
    ap.add_argument("--x0", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8])
    ap.add_argument("--edge", type=float, default=1e-9, help="rise and fall of the write pulse (s)")
    ap.add_argument("--alpha", type=float, default=0.0025, help="the calibration step (weight change)")
    ap.add_argument("--spans", action="store_true",
                    help="instead: the reversion at ±0.5·span of the range for the spans of design.WEIGHT_SPANS")
    a = ap.parse_args(argv)
    scn, _ = load(ROOT / "scenarios" / "xor.toml", [f"device.model={a.model}"])
    dev = device_params(scn)
    syn0 = _params("synapse.params", SynapseParams, scn.synapse.params, unit="pair")
    if a.spans:
        print("| write | x0 | v_write | " + " | ".join(f"span {s:g}" for s in D.WEIGHT_SPANS) + " |")
        print("|---|---|---|" + "---|" * len(D.WEIGHT_SPANS))
        for wm in a.write_mid:
            for x0 in a.x0:
                syn = syn0.with_values(r_sum=2 * D.resistance_at(dev, syn0, 1.0 - x0), write_mid=wm)
                for v in a.v:
                    revs = [D.reversion(dev, syn, v, a.edge, a.edge, s) for s in D.WEIGHT_SPANS]
                    print(f"| {wm} | {x0:g} | {v:g} V | " + " | ".join(f"{r:+.3f}" for r in revs) + " |", flush=True)
        return 0
    print("| write | x0 | r_sum | w_max | v_write | imbalance | uniformity | reversion |")
    print("|---|---|---|---|---|---|---|---|")
    for wm in a.write_mid:
        for x0 in a.x0:
            S = 2 * D.resistance_at(dev, syn0, 1.0 - x0)
            syn = syn0.with_values(r_sum=S, write_mid=wm)
            xb = D.unit_for_calibration(dev, syn)
            for v in a.v:
                up = D.measure(dev, syn, v, a.edge, a.edge, 1, a.alpha)
                dn = D.measure(dev, syn, v, a.edge, a.edge, -1, a.alpha)
                head = f"| {wm} | {x0:g} | {S:.4g} Ω | {xb.w_max:.2f} | {v:g} V |"
                if up.status != "ok" or dn.status != "ok":
                    print(f"{head} up {up.status}, down {dn.status} | | |")
                    continue
                _, uni, rev = D.evenness(dev, syn, v, a.edge, a.edge, up.kappa)
                print(f"{head} {D.imbalance(up, dn):+.2f} | {uni:.2f} | {rev:+.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
