"""The chip-design step (issue 12 items 1 and 4): what it chooses, that it keeps what a scenario sets,
that its errors say which way to go, and that every device model and unit trains out of the box.

The full out-of-the-box figures (10 seeds per model and unit, Iris on 3 seeds) come from
benchmarks/out_of_box.py; here fewer seeds keep the suite quick.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from components.devices import preset
from components.synapses import SynapseParams
from components.training import design as D
from components.training.config import load
from components.training.trainer import TrainingRun, calibrate_kappa
from mssim.errors import ConfigError
from mssim.units import TICK

ROOT = Path(__file__).resolve().parent.parent
XOR = ROOT / "scenarios" / "xor.toml"
QUIET = ["output.plots=false", "output.progress=false", "training.baselines=[]"]


def _run(*sets, scenario=XOR):
    scn, _ = load(scenario, [*QUIET, *sets])
    return TrainingRun(scn)


# ----------------------------------------------------------------------------- what is recorded
def test_design_goes_to_events_and_metrics(tmp_path):
    from components.training.runner import run_scenario

    out, res = run_scenario(XOR, overrides=[*QUIET, "training.epochs=2"], out=tmp_path / "r")
    m = json.loads((out / "metrics.json").read_text())
    d = m["design"]
    for key in ("v_write_v", "clock_s", "t_max_s", "t_pert_s", "v_read_v", "t_settle_s", "kappa_up_per_s",
                "kappa_down_per_s", "imbalance", "evenness", "write_mid", "source", "rule"):
        assert key in d, key
    assert d["source"]["v_write"] == d["source"]["clock"] == d["source"]["t_max"] == "designed"
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    ev = [e for e in events if e["kind"] == "design"]
    assert len(ev) == 1 and ev[0]["v_write_v"] == d["v_write_v"] and ev[0]["clock_s"] == d["clock_s"]
    # the chip was built with the designed values
    assert res.metrics["t_max_s"] == pytest.approx(d["t_max_s"])


def test_designed_pulses_span_clock_periods_and_stay_below_t_max():
    """Typical updates (alpha/kappa) span at least 10 clock periods and a 30-fold larger one fits t_max."""
    for model in ("team", "vteam", "hp", "yakopcic"):
        run = _run(f"device.model={model}", "training.epochs=1")
        d = run.design
        alpha = run.training_chip.alpha  # in the unit's weight (the scenario's alpha times w_span squared)
        assert alpha == pytest.approx(run.scn.training.alpha * run.w_span ** 2)
        typical = alpha / d.kappa
        assert typical / d.clock >= 10, model
        assert d.t_max >= D.T_MAX_STEPS * alpha / max(d.kappa, d.kappa_down) * 0.999, model
        assert d.v_threshold is None or d.v_write >= D.MARGIN * d.v_threshold * 0.999, model
        assert d.v_write <= D.V_SAFE
        assert round(d.clock / TICK) * TICK == pytest.approx(d.clock)


def test_a_value_the_scenario_sets_is_kept():
    run = _run("timing.v_write=1.2", "timing.clock=2ns", "timing.t_max=7us", "timing.t_settle=30us",
               "training.epochs=1")
    d = run.design_record()
    assert (d["v_write_v"], d["clock_s"], d["t_max_s"], d["t_settle_s"]) == (1.2, 2e-9, 7e-6, 30e-6)
    assert {d["source"][k] for k in ("v_write", "clock", "t_max", "t_settle")} == {"scenario"}
    assert run.controller.pwm.params.clock == 2e-9 and run.cfg.v_write == 1.2
    free = _run("training.epochs=1").design_record()
    assert free["v_write_v"] != 1.2 and free["source"]["v_write"] == "designed"


def test_the_design_is_deterministic():
    a = _run("training.epochs=1").design_record()
    D._design_cached.cache_clear()
    D.design_unit.cache_clear()
    D.choose_read_cached.cache_clear()
    b = _run("training.epochs=1").design_record()
    assert a == b


# ----------------------------------------------------------------------------- calibration errors
def test_below_threshold_says_raise():
    dev = preset("team", "symmetric")
    with pytest.raises(ConfigError, match=r"timing.v_write: a 0.05 V pulse does not move.*raise timing.v_write"):
        calibrate_kappa(dev, SynapseParams(unit="pair"), 0.05, 10e-9, 10e-9)


def test_too_fast_says_lower():
    """A reference unit sits near R_on: at 2 V a TEAM device switches on the pulse's edges alone."""
    dev = preset("team", "symmetric")
    with pytest.raises(ConfigError, match=r"too fast.*lower timing.v_write"):
        calibrate_kappa(dev, SynapseParams(unit="reference"), 2.0, 10e-9, 10e-9)


def test_validate_refuses_a_fixed_voltage_below_threshold_before_the_first_event():
    r = subprocess.run([sys.executable, "-c", "import sys; from mssim.cli import main; sys.exit(main())",
                        "validate", str(XOR), "--set", "timing.v_write=0.05"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode != 0 and "raise timing.v_write" in r.stderr


@pytest.mark.parametrize("model", ["team", "vteam"])
def test_team_and_vteam_calibrate_with_the_reference_unit(model):
    """The reference unit's mid weight sits at R ≈ 2·R_on, so its write currents are hundreds of times
    the switching threshold at 1 V: the design step finds a low voltage and a fine clock."""
    run = _run(f"device.model={model}", "synapse.unit=reference", "training.epochs=1")
    d = run.design
    assert d.kappa > 0 and d.v_write < 0.5
    assert (d.kappa * d.clock) < run.scn.training.alpha / 10


def test_a_reference_chip_is_built_at_the_designed_operating_point_and_records_it():
    """TrainingRun takes the reference unit's g_ref from the design step (above the mid conductance
    for TEAM) and records it in the design record; a scenario's own g_ref is kept and says so."""
    run = _run("synapse.unit=reference", "training.epochs=1")
    rec = run.design_record()
    dev = run.chip.spec.device_params
    g_mid = 0.5 * (1.0 / dev.r_on + 1.0 / dev.r_off)
    assert rec["source"]["g_ref"] == "designed"
    assert rec["g_ref_s"] == run.chip.spec.synapse_params.g_ref and rec["g_ref_s"] > g_mid
    kept = _run("synapse.unit=reference", "synapse.params.g_ref=0.006", "training.epochs=1")
    assert kept.design_record()["source"]["g_ref"] == "scenario"
    assert kept.chip.spec.synapse_params.g_ref == 0.006


def test_read_amplitude_stays_below_the_read_disturb_threshold():
    """differential puts the whole read voltage across one device near R_on: the design lowers it."""
    run = _run("synapse.unit=differential", "training.epochs=1")
    syn = run.chip.spec.synapse_params
    assert syn.v_read < 0.02
    assert D.read_disturb(run.chip.spec.device_params, syn, syn.v_read) < run.scn.training.alpha * D.READ_DISTURB_FRACTION
    assert D.read_disturb(run.chip.spec.device_params, syn, 0.02) > run.scn.training.alpha * D.READ_DISTURB_FRACTION


def test_divider_sum_out_of_range_is_refused():
    with pytest.raises(ConfigError, match="r_sum"):
        _run("synapse.params.r_sum=150", "training.epochs=1")


# ----------------------------------------------------------------------------- operating points
def _ref_unit(f=None):
    """TEAM (symmetric) in a reference unit; ``f``: g_ref = G_off + f·(G_on − G_off)/2 (None: mid)."""
    dev = preset("team", "symmetric")
    syn = SynapseParams(unit="reference")
    if f is not None:
        xb = D.unit_for_calibration(dev, syn)
        g_on, g_off = 1 / xb.r_lo, 1 / xb.r_hi
        syn = syn.with_values(g_ref=g_off + f * 0.5 * (g_on - g_off))
    return dev, syn


def test_reference_unit_weight_zero_moves_up_where_the_rates_are_even():
    """TEAM's resistance is linear in its state, so a weight linear in conductance moves ~G^5 faster
    near R_on: the design puts weight 0 higher in conductance, where the rates at w = ±0.5 differ less,
    and keeps what the scenario sets."""
    dev, syn = _ref_unit()
    rise, fall = D.choose_edges(dev, syn, 5e-9, 5e-9, 0.01, None, 0.01)
    chosen = D.design_unit(dev, syn, rise, fall, 0.01, None)
    xb = D.unit_for_calibration(dev, syn)
    g_on, g_off = 1 / xb.r_lo, 1 / xb.r_hi
    assert chosen.g_ref is not None and chosen.g_ref > 0.5 * (g_on + g_off)
    xc = D.unit_for_calibration(dev, chosen)
    assert -xc.w_min >= D.REF_PROBE_W + 0.1 - 1e-9 and xc.w_max >= D.REF_PROBE_W + 0.1 - 1e-9

    def merit(s):
        return D.unit_merit(dev, s, D.choose_voltage(dev, s, rise, fall, 0.01)[0], rise, fall, 0.01)[0]

    assert merit(chosen) > 3 * merit(syn)
    # the rates at w = +0.5 over those at w = -0.5, both directions: ~700-1000 at the mid conductance,
    # under 100 at the chosen point
    ratios = {}
    for s in (syn, chosen):
        v = D.choose_voltage(dev, s, rise, fall, 0.01)[0]
        x = D.unit_for_calibration(dev, s)
        ratios[s] = [D.measure(dev, s, v, rise, fall, d, 0.01, w0=0.5 / x.w_max).kappa
                     / D.measure(dev, s, v, rise, fall, d, 0.01, w0=-0.5 / -x.w_min).kappa for d in (1, -1)]
    assert min(ratios[syn]) > 500 and max(ratios[chosen]) < 100
    fixed = syn.with_values(g_ref=0.006)
    assert D.design_unit(dev, fixed, rise, fall, 0.01, None, fix_g_ref=True) is fixed


def test_voltage_leaves_no_part_of_the_range_saturated_when_a_balanced_one_does_not():
    """At g_ref 1.4 of the way up, the most balanced voltages (4 mV: still at w = -0.5; 23 mV: saturated
    at +0.5) leave part of the range unmovable: the design widens its imbalance tolerance and takes a
    voltage that moves every probed weight."""
    dev, syn = _ref_unit(1.4)
    v, _, ev = D.choose_voltage(dev, syn, 2e-10, 2e-10, 0.01)
    assert ev > 0.02
    for w0 in D._probes(dev, syn):
        for d in (1, -1):
            assert D.measure(dev, syn, v, 2e-10, 2e-10, d, 0.01, w0=w0).status == "ok"
    # the old rule (only voltages within IMBALANCE_TOL of the best balance) finds none such
    pts = D._scan(dev, syn, 2e-10, 2e-10, 0.01)
    ok = {u: p for u, p in pts.items() if p[0].status == p[1].status == "ok"}
    best = min(abs(p[2]) for p in ok.values())
    assert abs(ok[v][2]) > best + D.IMBALANCE_TOL
    assert all(D.evenness(dev, syn, u, 2e-10, 2e-10, p[0].kappa)[0] == 0.0
               for u, p in ok.items() if abs(p[2]) <= best + D.IMBALANCE_TOL)


def test_edges_are_short_enough_over_the_whole_range():
    """The edges alone move no probed weight (mid and ±0.5) by more than alpha/10, and the next longer
    edge of the 1-2-5 series would: the reference unit's fast end (w = +0.5) sets them."""
    dev, syn = _ref_unit()
    rise, fall = D.choose_edges(dev, syn, 5e-9, 5e-9, 0.01, None, 0.01)
    v = D.choose_voltage(dev, syn, rise, fall, 0.01)[0]
    assert D.edge_motion(dev, syn, v, rise, fall) <= 0.01 / D.EDGE_FRACTION
    longer = D._nice(rise * 2.01, up=True)
    v2 = D.choose_voltage(dev, syn, longer, longer, 0.01)[0]
    assert D.edge_motion(dev, syn, v2, longer, longer) > 0.01 / D.EDGE_FRACTION
    # the mid weight alone would have allowed longer edges
    mid = max(abs(D.measure(dev, syn, v2, longer, longer, d, 0.01).edge_dw) for d in (1, -1))
    assert mid <= 0.01 / D.EDGE_FRACTION


# ----------------------------------------------------------------------------- out of the box
def _trains(sets, seeds):
    ok = 0
    for s in seeds:
        res = _run(*sets, f"seed={s}").run()
        ok += res.metrics["train_accuracy"] >= 1.0
    return ok


@pytest.mark.parametrize("model", ["team", "vteam", "hp"])
def test_xor_trains_out_of_the_box_with_every_model(model):
    assert _trains([f"device.model={model}"], (1, 3)) == 2


def test_xor_trains_out_of_the_box_with_yakopcic():
    assert _trains(["device.model=yakopcic"], (3, 6)) == 2


def test_the_weight_span_keeps_a_reverting_device_in_the_middle_of_its_range():
    """Yakopcic's windows pull a pair's weights back toward 0 (reversion 0.4 at ±0.5 of the range): the
    design takes the largest span of WEIGHT_SPANS whose reversion is at most REVERSION_MAX, writes
    alpha·span², c·span and w_init·span in the unit's weight and raises R_f by 1/span; a device
    without reversion (TEAM) keeps span 1 and the scenario's own values."""
    yak = _run("device.model=yakopcic", "training.epochs=1")
    rec, s = yak.design_record(), yak.w_span
    assert rec["w_span"] == s < 1 and rec["source"]["w_span"] == "designed"
    dev, syn = yak.chip.spec.device_params, yak.chip.spec.synapse_params
    v, rise, fall = yak.design.v_write, yak.timing.rise, yak.timing.fall
    assert abs(D.reversion(dev, syn, v, rise, fall, s)) <= D.REVERSION_MAX
    assert abs(D.reversion(dev, syn, v, rise, fall, 2 * s)) > D.REVERSION_MAX
    assert D.reversion(dev, syn, v, rise, fall, 1.0) > 0.25
    tr = yak.scn.training
    assert yak.cfg.alpha == pytest.approx(tr.alpha * s * s) and yak.cfg.c == pytest.approx(tr.c * s)
    assert np.max(np.abs(yak.initial_weights)) <= yak.scn.synapse.w_init * s * 1.0001
    team = _run("training.epochs=1")
    assert team.w_span == 1.0 and team.cfg.alpha == team.scn.training.alpha and team.cfg.c == team.scn.training.c
    # R_f per unit weight rises by 1/span (a pair's resistance per unit weight is R_in)
    ng = yak.scn.neuron
    assert yak.chip.spec.neuron_params.r_f * s == pytest.approx(ng.gain * syn.r_in * ng.v_sat / syn.v_read, rel=1e-12)
    assert team.chip.spec.neuron_params.r_f == pytest.approx(
        ng.gain * team.chip.spec.synapse_params.r_in * ng.v_sat / team.chip.spec.synapse_params.v_read, rel=1e-12)


@pytest.mark.parametrize("unit", ["differential", "bridge", "reference"])
def test_xor_trains_out_of_the_box_with_every_unit(unit):
    assert _trains([f"synapse.unit={unit}"], (3, 4)) == 2
