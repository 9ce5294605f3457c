"""Synaptic units and crossbar layers: closed forms, write signs, read disturb, energy,
the port path, line resistance and validation.  The expected values are computed here
from the resistances by hand formulas (Kirchhoff), not by the module's own functions."""

import numpy as np
import pytest

from components.devices import HPParams, TEAMParams
from components.synapses import WEIGHT_INCREASING_POLARITY, CrossbarLayer, SynapseParams
from mssim import Circuit
from mssim.errors import ConfigError, SimulationError
from mssim.stimulus import PWLSource

TEAM = TEAMParams.hp_tio2()
HP = HPParams.biolek2009()


def layer(unit="pair", n_in=3, n_out=4, dev=TEAM, seed=1, **kw):
    sp = SynapseParams(unit=unit, init="random", w_init_scale=0.6, **kw)
    return CrossbarLayer("xb", n_in, n_out, dev, sp).build_detached(seed)


V = np.array([0.02, -0.013, 0.007])


# ------------------------------------------------------------------ closed forms
def test_pair_divider_weight_and_loading():
    L = layer("pair", r_in=20e3)
    M1, M2 = L.resistances()
    np.testing.assert_allclose(L.weights(), (M2 - M1) / (M1 + M2), rtol=1e-12)
    # KCL at each middle node: (v - Vm)/M1 + (-v - Vm)/M2 = Vm/R_in
    v = V[:, None]
    vm = (v / M1 - v / M2) / (1 / M1 + 1 / M2 + 1 / 20e3)
    expect = (vm / 20e3).sum(axis=0)
    np.testing.assert_allclose(L.read(V), expect, rtol=1e-12)
    # = Thevenin: V_in·w / (M1∥M2 + R_in); and the load is not negligible here
    thev = (v * (M2 - M1) / (M1 + M2) / (M1 * M2 / (M1 + M2) + 20e3)).sum(axis=0)
    np.testing.assert_allclose(L.read(V), thev, rtol=1e-12)
    unloaded = (v * L.weights() / 20e3).sum(axis=0)
    assert np.max(np.abs(L.read(V) / unloaded - 1)) > 0.05
    # g port: Σ 1/(R_th + R_in)
    np.testing.assert_allclose(L.column_conductance(), (1 / (M1 * M2 / (M1 + M2) + 20e3)).sum(axis=0), rtol=1e-12)
    # unloaded limit: R_in -> inf recovers V_mid = V_in·w
    big = layer("pair", r_in=1e12)
    np.testing.assert_allclose(big.read(V) * 1e12, (V[:, None] * big.weights()).sum(axis=0), rtol=1e-6)


def test_differential_transimpedance_output():
    L = layer("differential")
    M1, M2 = L.resistances()
    np.testing.assert_allclose(L.read(V), (V[:, None] * (1 / M1 - 1 / M2)).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(L.effective_gain_matrix(), 1 / M1 - 1 / M2, rtol=1e-12)
    np.testing.assert_allclose(L.column_conductance(), (1 / M1 + 1 / M2).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(L.weights(), (1 / M1 - 1 / M2) / (1 / TEAM.r_on - 1 / TEAM.r_off), rtol=1e-12)


def test_bridge_formula():
    L = layer("bridge", r_in=50e3)
    M1, M2, M3, M4 = L.resistances()
    w = M2 / (M1 + M2) - M4 / (M3 + M4)
    np.testing.assert_allclose(L.weights(), w, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(L.read(V), (V[:, None] * w / 50e3).sum(axis=0), rtol=1e-12)


def test_reference_column():
    L = layer("reference", g_ref=1e-4)
    (M,) = L.resistances()
    np.testing.assert_allclose(L.read(V), (V[:, None] * (1 / M - 1e-4)).sum(axis=0), rtol=1e-12)
    # default g_ref: mid conductance, symmetric weights
    D = layer("reference")
    assert D.g_ref == pytest.approx(0.5 * (1 / TEAM.r_on + 1 / TEAM.r_off))
    assert D.w_min == pytest.approx(-1) and D.w_max == pytest.approx(1)


@pytest.mark.parametrize("unit", ["pair", "differential", "bridge", "reference"])
def test_set_weights_round_trip_and_range(unit):
    L = layer(unit)
    rng = np.random.default_rng(0)
    W = rng.uniform(0.9 * L.w_min, 0.9 * L.w_max, (3, 4))
    L.set_weights(W)
    np.testing.assert_allclose(L.weights(), W, atol=1e-12)
    with pytest.raises(ConfigError, match=r"set_weights\.W: weights must lie in"):
        L.set_weights(np.full((3, 4), 1.5))
    L.set_weights(np.full((3, 4), 1.5), clip=True)
    np.testing.assert_allclose(L.weights(), L.w_max, atol=1e-12)
    if unit in ("pair", "bridge"):  # the mid-range sum is kept
        R = L.resistances()
        np.testing.assert_allclose(R[0] + R[1], TEAM.r_on + TEAM.r_off, rtol=1e-12)


def test_effective_gain_matrix_is_the_read_map():
    for unit in ("pair", "differential", "bridge", "reference"):
        L = layer(unit)
        np.testing.assert_allclose(L.read(V), V @ L.effective_gain_matrix(), rtol=1e-12)


# ------------------------------------------------------------------ writes
@pytest.mark.parametrize("unit", ["pair", "differential", "bridge", "reference"])
def test_weight_increasing_polarity(unit):
    L = layer(unit, dev=TEAM)
    w0 = L.weights()
    pol = np.zeros((3, 4))
    pol[0] = WEIGHT_INCREASING_POLARITY
    pol[1] = -WEIGHT_INCREASING_POLARITY
    amp = 1.0 if unit != "differential" and unit != "reference" else 0.5
    L.write(amp, amp, 1e-6, pol)
    dw = L.weights() - w0
    assert np.all(dw[0] > 1e-4), dw
    assert np.all(dw[1] < -1e-4), dw
    assert np.all(dw[2] == 0)


def test_parallel_write_equals_unit_by_unit():
    pol = np.array([[1, -1, 0, 1], [-1, 1, 1, 0], [0, -1, 1, -1]], float)
    A = layer("pair")
    A.write(1.0, 0.9, 2e-6, pol.ravel())  # flat row-major mask is accepted
    B = layer("pair")
    for i in range(3):
        for j in range(4):
            one = np.zeros((3, 4))
            one[i, j] = pol[i, j]
            B.write(1.0, 0.9, 2e-6, one)
    np.testing.assert_array_equal(A.resistances()[0], B.resistances()[0])
    np.testing.assert_array_equal(A.resistances()[1], B.resistances()[1])


def _table_device():
    from components.devices import preset
    from components.devices.table import DATA_DIR

    return preset("table", None, data=str(DATA_DIR / "example_table.csv"))


@pytest.mark.parametrize("unit, device", [(u, "team") for u in ("pair", "differential", "bridge", "reference")]
                         + [("pair", "table"), ("reference", "table"), ("pair", "team-grounded"),
                            ("bridge", "team-grounded")])
def test_a_whole_pulse_in_one_call_equals_its_pieces_one_by_one(unit, device):
    """write_pieces (one compiled call per pulse) is the same physics, the same cycle-to-cycle
    draws and the same energy as write() per piece (one device call, one draw, per piece); the
    measured-table model's SET and RESET changes keep their own spreads."""
    kw = {}
    if device.startswith("team"):
        dev = TEAMParams.symmetric().with_values(dx_c2c=0.2)
        v = 1.2
        if device == "team-grounded":  # the middle node held at 0 V: each device alone, half the pulse
            kw = {"write_mid": "ground"}
    else:
        dev = _table_device()
        assert dev.c2c_set != dev.c2c_reset  # the spreads taken from its data differ by direction
        v = 2.0
    pol = np.array([[1, -1, 0, 1], [-1, 1, 1, 0], [0, -1, 1, -1]], float)
    pieces = [(0.0, v, 1e-8), (v, v, 3e-7), (v, 0.0, 2e-8), (0.0, 0.0, 1e-7)]
    A = layer(unit, dev=dev, seed=3, **kw)
    B = layer(unit, dev=dev, seed=3, **kw)
    ea = A.write_pieces(pieces, pol)
    eb = sum(B.write(a, b, t, pol) for a, b, t in pieces)
    for ra, rb in zip(A.resistances(), B.resistances()):
        np.testing.assert_array_equal(ra, rb)
    assert ea == pytest.approx(eb, rel=1e-12) and ea > 0
    assert not np.array_equal(A.resistances()[0], layer(unit, dev=dev, seed=3, **kw).resistances()[0])  # it wrote


def test_subthreshold_write_energy_is_v2_over_r():
    L = layer("pair")
    M1, M2 = L.resistances()
    pol = np.ones((3, 4))
    e = L.write(0.1, 0.1, 1e-6, pol)  # 0.1 V / 16 kΩ ≈ 6 µA: below both TEAM thresholds
    np.testing.assert_array_equal(L.resistances()[0], M1)
    assert e == pytest.approx(np.sum(0.1 ** 2 / (M1 + M2)) * 1e-6, rel=1e-9)
    assert L.energy_j.write == pytest.approx(e) and L.energy_j.read == 0


# ------------------------------------------------------------------ reads
def test_team_reads_below_threshold_do_not_disturb():
    L = layer("pair", dev=TEAM)
    R0 = L.resistances()
    v = np.full(3, L.synapse_params.v_read)
    e = L.apply_read(v, -v, 1e-2)
    for a, b in zip(R0, L.resistances()):
        np.testing.assert_array_equal(a, b)
    # energy = ∫ Σ V·I over the ramp +v -> -v, states fixed: closed form from KCL
    M1, M2 = R0
    r = 100e3

    def power(x):
        xv = x[:, None]
        vm = (xv / M1 - xv / M2) / (1 / M1 + 1 / M2 + 1 / r)
        return np.sum(xv * (xv - vm) / M1 + (-xv) * (-xv - vm) / M2)

    ts = np.linspace(0, 1, 2001)
    expect = np.trapezoid([power(v + (-2 * v) * s) for s in ts], ts) * 1e-2
    assert e == pytest.approx(expect, rel=1e-6)


def test_hp_read_disturb_matches_charge_closed_form():
    # nearly unloaded pair (huge R_in): one current i = 2V/(M1+M2) through both devices; with HP
    # (no window) the sum stays constant, so ΔR = ±(R_off - R_on)·k·i·t exactly.
    L = layer("pair", dev=HP, r_in=1e15)
    L.set_weights(np.zeros((3, 4)))
    v, t = 0.05, 2e-3
    M1, M2 = L.resistances()
    L.apply_read(np.full(3, v), np.full(3, v), t)
    k = HP.mu_v * HP.r_on / HP.d ** 2
    dR = (HP.r_off - HP.r_on) * k * (2 * v / (M1 + M2)) * t
    N1, N2 = L.resistances()
    assert dR.min() > 1.0  # the read visibly disturbs the weight
    np.testing.assert_allclose(N1 - M1, dR, rtol=1e-3)
    np.testing.assert_allclose(N2 - M2, -dR, rtol=1e-3)
    assert np.all(L.weights() < 0)  # V_in > 0 pushes w down
    # a negative read pushes it back
    L.apply_read(np.full(3, -v), np.full(3, -v), t)
    np.testing.assert_allclose(L.resistances()[0], M1, rtol=1e-5)


# ------------------------------------------------------------------ circuit (port) path
def _circuit(dev=TEAM, sp=None, wr=(), pol=None, rows=None):
    c = Circuit()
    L = c.add(CrossbarLayer("xb", 2, 3, dev, sp or SynapseParams(init="random", w_init_scale=0.5)))
    c.add(PWLSource("rows", 2, rows or [("1us", [0.02, -0.01], "2us"), ("10us", [0.0, 0.0])]))
    c.add(PWLSource("wr", 1, list(wr)))
    c.add(PWLSource("pol", 6, [(0, np.zeros(6) if pol is None else pol)], kind="digital"))
    c.connect("rows.out", "xb.in")
    c.connect("wr.out", "xb.write")
    c.connect("pol.out", "xb.polarity")
    return c, L


def test_out_follows_in_ramp_and_g_port():
    c, L = _circuit()
    sim = c.build(seed=2)
    sim.run("2us")  # mid-ramp
    G = L.effective_gain_matrix()
    np.testing.assert_allclose(sim.net("xb.out").value(), np.array([0.01, -0.005]) @ G, rtol=1e-12)
    np.testing.assert_allclose(sim.net("xb.g").value(), L.column_conductance(), rtol=1e-12)
    sim.run("5us")
    np.testing.assert_allclose(sim.net("xb.out").value(), np.array([0.02, -0.01]) @ G, rtol=1e-12)
    sim.run("11us")
    np.testing.assert_array_equal(sim.net("xb.out").value(), 0.0)


def test_port_write_latches_polarity_and_matches_direct_write():
    pol = np.array([1, -1, 0, -1, 1, 1], float)
    wr = [("12us", 1.0, "10ns"), ("13us", 0.0, "10ns"), ("15us", -0.8, "10ns"), ("16us", 0.0, "10ns")]
    c, L = _circuit(wr=wr, pol=pol, rows=[("1us", [0.02, -0.01]), ("11us", [0.0, 0.0]), ("20us", [0.02, 0.01])])
    sim = c.build(seed=4)
    ref = CrossbarLayer("xb", 2, 3, TEAM, L.synapse_params).build_detached(seed=4)
    np.testing.assert_array_equal(ref.weights(), L.weights())
    sim.run("12.5us")
    assert L._writing
    np.testing.assert_array_equal(sim.net("xb.out").value(), 0.0)  # read path open during the pulse
    sim.run("14us")  # the ramp to 0 V ended at 13.01 us: write over, outputs refreshed
    assert not L._writing
    sim.run("30us")
    for v0, v1, d in ((0, 1.0, 10e-9), (1.0, 1.0, 1e-6 - 10e-9), (1.0, 0, 10e-9),
                      (0, -0.8, 10e-9), (-0.8, -0.8, 1e-6 - 10e-9), (-0.8, 0, 10e-9)):
        ref.write(v0, v1, d, pol)
    np.testing.assert_allclose(L.resistances()[0], ref.resistances()[0], rtol=1e-9)
    np.testing.assert_allclose(L.resistances()[1], ref.resistances()[1], rtol=1e-9)
    assert np.any(L.weights() != CrossbarLayer("xb", 2, 3, TEAM, L.synapse_params).build_detached(4).weights())
    np.testing.assert_allclose(sim.net("xb.out").value(), np.array([0.02, 0.01]) @ L.effective_gain_matrix())
    assert L.energy_j.write == pytest.approx(ref.energy_j.write, rel=1e-9)


def test_polarity_change_during_pulse_is_ignored():
    wr = [("12us", 1.0), ("13us", 0.0)]
    c, L = _circuit(wr=wr, pol=np.ones(6))
    c2 = Circuit()
    L2 = c2.add(CrossbarLayer("xb", 2, 3, TEAM, L.synapse_params))
    c2.add(PWLSource("rows", 2, [("1us", [0.02, -0.01], "2us"), ("10us", [0.0, 0.0])]))
    c2.add(PWLSource("wr", 1, wr))
    c2.add(PWLSource("pol", 6, [(0, np.ones(6)), ("12.5us", -np.ones(6))], kind="digital"))
    for a, b in (("rows.out", "xb.in"), ("wr.out", "xb.write"), ("pol.out", "xb.polarity")):
        c2.connect(a, b)
    s1, s2 = c.build(seed=5), c2.build(seed=5)
    s1.run("20us")
    s2.run("20us")
    # same result (the mid-pulse change only splits the integration in two)
    np.testing.assert_allclose(L.resistances()[1], L2.resistances()[1], rtol=1e-8)


def test_hp_read_disturb_through_ports_equals_direct():
    sp = SynapseParams(init="random", w_init_scale=0.5)
    c, L = _circuit(dev=HP, sp=sp, rows=[("1us", [0.05, -0.03]), ("501us", [0.0, 0.0])])
    sim = c.build(seed=6)
    ref = CrossbarLayer("xb", 2, 3, HP, sp).build_detached(seed=6)
    sim.run("600us")
    ref.apply_read([0.05, -0.03], [0.05, -0.03], 500e-6)
    np.testing.assert_allclose(L.resistances()[0], ref.resistances()[0], rtol=1e-9)
    assert np.max(np.abs(L.weights() - CrossbarLayer("xb", 2, 3, HP, sp).build_detached(6).weights())) > 1e-5
    assert L.energy_j.read == pytest.approx(ref.energy_j.read, rel=1e-9)


# ------------------------------------------------------------------ line resistance, faults, determinism
def test_tiny_line_resistance_converges_to_closed_form():
    for unit in ("pair", "differential", "reference"):
        ideal = layer(unit)
        err = [np.max(np.abs(layer(unit, r_line=r).read(V) / ideal.read(V) - 1)) for r in (1e-2, 1e-3)]
        assert err[1] < 3e-3
        assert err[0] / err[1] == pytest.approx(10, rel=0.05)  # first order in r_line


def test_line_resistance_write_ir_drop_slows_far_units():
    pol = np.ones((3, 4))
    ideal, wired = layer("pair", n_in=1), layer("pair", n_in=1, r_line=200.0)
    ideal.set_weights(np.zeros((1, 4)))
    wired.set_weights(np.zeros((1, 4)))
    ideal.write(1.0, 1.0, 1e-6, pol[:1])
    wired.write(1.0, 1.0, 1e-6, pol[:1])
    dwi, dww = -ideal.weights()[0], -wired.weights()[0]
    assert np.all(dww < dwi) and np.all(np.diff(dww) < 0)  # farther from the driver: less pulse


def test_open_device_gives_no_nan_and_stuck_device_is_not_reprogrammed():
    L = layer("pair")
    idx = L.device_indices(0)
    L.device_array.set_open([idx[0, 0]])
    L.device_array.set_stuck([idx[1, 1]], "on")
    assert np.all(np.isfinite(L.read(V)))
    assert L.weights()[0, 0] == pytest.approx(-1.0)  # M1 open: the middle node sits at -V_in
    L.set_weights(np.zeros((3, 4)))
    assert L.resistances()[0][1, 1] == pytest.approx(TEAM.r_on)


def test_same_seed_same_chip_and_d2d_spread():
    dev = TEAMParams.hp_tio2(r_on_d2d=0.1, r_off_d2d=0.1)
    sp = SynapseParams(init="random", init_spread=0.05)
    a = CrossbarLayer("xb", 3, 4, dev, sp).build_detached(9)
    b = CrossbarLayer("xb", 3, 4, dev, sp).build_detached(9)
    c = CrossbarLayer("xb", 3, 4, dev, sp).build_detached(10)
    np.testing.assert_array_equal(a.resistances()[0], b.resistances()[0])
    assert np.any(a.resistances()[0] != c.resistances()[0])


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("field,value,msg", [
    ("unit", "triple", "unit: must be one of"),
    ("r_in", 0.0, "r_in: must be positive"),
    ("r_in", "1k", "r_in: must be a number"),
    ("v_read", -0.1, "v_read: must be positive"),
    ("v_read", float("nan"), "v_read: must be finite"),
    ("r_line", -1.0, "r_line: must not be negative"),
    ("g_ref", 0.0, "g_ref: must be positive"),
    ("init", "zeros", "init: must be one of"),
    ("w_init_scale", 1.0, r"w_init_scale: must lie in \[0, 1\)"),
    ("init_spread", 2.0, r"init_spread: must lie in \[0, 1\]"),
    ("disturb_rtol", 0.0, r"disturb_rtol: must lie in \(0, 0.1\]"),
])
def test_synapse_params_validation(field, value, msg):
    with pytest.raises(ConfigError, match=rf"SynapseParams\.{msg}"):
        SynapseParams(**{field: value})


def test_bridge_with_line_resistance_and_unknown_field_rejected():
    with pytest.raises(ConfigError, match=r"SynapseParams\.r_line: line resistance is not modelled for unit 'bridge'"):
        SynapseParams(unit="bridge", r_line=1.0)
    with pytest.raises(ConfigError, match=r"SynapseParams\.r_inn: unknown parameter"):
        SynapseParams().with_values(r_inn=1.0)


def test_layer_validation():
    with pytest.raises(ConfigError, match=r"CrossbarLayer\.n_in: must be a positive integer"):
        CrossbarLayer("x", 0, 2, TEAM)
    with pytest.raises(ConfigError, match=r"CrossbarLayer\.n_out: must be a positive integer"):
        CrossbarLayer("x", 2, 2.5, TEAM)
    with pytest.raises(ConfigError, match=r"CrossbarLayer\.device_params"):
        CrossbarLayer("x", 2, 2, {"r_on": 1})
    with pytest.raises(ConfigError, match=r"CrossbarLayer\.synapse_params"):
        CrossbarLayer("x", 2, 2, TEAM, {"unit": "pair"})
    with pytest.raises(SimulationError, match="not built"):
        CrossbarLayer("x", 2, 2, TEAM).weights()
    L = layer()
    with pytest.raises(ConfigError, match=r"set_weights\.W: shape must be \(3, 4\)"):
        L.set_weights(np.zeros((4, 3)))
    with pytest.raises(ConfigError, match=r"set_weights\.W: must be finite"):
        L.set_weights(np.full((3, 4), np.nan))
    with pytest.raises(ConfigError, match=r"read\.v_in: shape must be \(3,\)"):
        L.read(np.zeros(4))
    with pytest.raises(ConfigError, match=r"read\.v_in: must be finite"):
        L.read(np.array([0, np.inf, 0]))
    with pytest.raises(ConfigError, match=r"write\.polarity: shape must be"):
        L.write(1.0, 1.0, 1e-6, np.ones(5))
    with pytest.raises(ConfigError, match=r"write\.v0: must be a finite number"):
        L.write(float("nan"), 1.0, 1e-6)
    with pytest.raises(ConfigError, match=r"write\.duration_s: must be a non-negative"):
        L.write(1.0, 1.0, -1e-6)
    with pytest.raises(ConfigError, match=r"apply_read\.duration_s: must be a non-negative"):
        L.apply_read(V, V, float("inf"))
    with pytest.raises(ConfigError, match=r"device_indices\.slot: must lie in \[0, 2\)"):
        L.device_indices(2)


# ------------------------------------------------------------ buffer, read_disturb, electrical perturbation
def _detached(**kw):
    from components.devices import preset
    from components.synapses import CrossbarLayer, SynapseParams

    layer = CrossbarLayer("L", 3, 2, preset("hp", "biolek2009") if kw.pop("hp", False) else preset("team", "hp_tio2"),
                          SynapseParams(init="random", w_init_scale=0.5, **kw))
    return layer.build_detached(seed=4)


def test_buffered_pair_gain_is_w_over_r_in():
    layer = _detached(buffer=True)
    W = layer.weights()
    np.testing.assert_allclose(layer.effective_gain_matrix(), W / layer.synapse_params.r_in, rtol=1e-13)
    np.testing.assert_allclose(layer.column_conductance(), 3 / layer.synapse_params.r_in)
    loaded = _detached(buffer=False)
    assert not np.allclose(loaded.effective_gain_matrix(), loaded.weights() / loaded.synapse_params.r_in, rtol=1e-3)


def test_buffer_validation():
    from components.synapses import SynapseParams

    with pytest.raises(ConfigError, match="SynapseParams.buffer: only the 'pair' unit"):
        SynapseParams(unit="differential", buffer=True)
    with pytest.raises(ConfigError, match="SynapseParams.buffer: a buffered pair with line resistance"):
        SynapseParams(buffer=True, r_line=1.0)
    with pytest.raises(ConfigError, match="SynapseParams.read_disturb"):
        SynapseParams(read_disturb="no")


def test_read_disturb_off_freezes_hp_states_but_counts_energy():
    on = _detached(hp=True, v_read=0.5)
    off = _detached(hp=True, v_read=0.5, read_disturb=False)
    v = np.array([0.5, -0.5, 0.5])
    r_before = off.resistances()[0].copy()
    e = off.apply_read(v, v, 1e-3)
    np.testing.assert_array_equal(off.resistances()[0], r_before)
    assert e > 0
    on.apply_read(v, v, 1e-3)
    assert not np.array_equal(on.resistances()[0], r_before)


def test_electrical_perturbation_adds_dw_times_unit_conductance():
    layer = _detached(buffer=True)
    G0 = layer.effective_gain_matrix()
    dW = np.full((3, 2), 0.05)
    dW[1, 0] = -0.05
    layer.set_perturbation(dW)
    np.testing.assert_allclose(layer.effective_gain_matrix(), G0 + dW / layer.synapse_params.r_in, rtol=1e-13)
    layer.set_perturbation(None)
    np.testing.assert_allclose(layer.effective_gain_matrix(), G0, rtol=1e-15)
    with pytest.raises(ConfigError, match="set_perturbation.delta_w"):
        layer.set_perturbation(np.zeros((2, 2)))
