"""Trapezoid pulse generator: shape, clock quantisation, minimum width, polarity
masks, jitter and amplitude noise statistics, energy, validation."""

import math

import numpy as np
import pytest

from components.pulses import PulseGenerator, PulseParams
from mssim import Circuit, Component, Port
from mssim.errors import ConfigError, SimulationError
from mssim.stimulus import PWLSource
from mssim.units import ns, to_ticks


class Sink(Component):
    def __init__(self, name, n):
        super().__init__(name)
        self.n = n

    def ports(self):
        return [Port("in", "voltage", self.n, "in")]


def rig(params, n=3, polarity=None):
    c = Circuit()
    gen = c.add(PulseGenerator("pg", params, n_lines=n))
    c.add(Sink("load", n))
    c.connect("pg.out", "load.in")
    if polarity is not None:
        c.add(PWLSource("pol", n, [(0, polarity)], kind="digital"))
        c.connect("pol.out", "pg.polarity")
    sim = c.build(seed=3)
    probe = sim.probe("pg.out")
    return sim, gen, probe


def fire_at(sim, gen, t, **kw):
    box = {}

    def proc():
        yield sim.env.timeout(t - sim.env.now)
        box["info"] = yield gen.fire(**kw)

    sim.env.process(proc())
    return box


def test_trapezoid_shape_and_width_semantics():
    p = PulseParams(amplitude=1.2, width=50 * ns, rise=10 * ns, fall=20 * ns)
    sim, gen, probe = rig(p, polarity=[1, -1, 0])
    box = fire_at(sim, gen, to_ticks("100ns"))
    sim.run()
    out = sim.net("pg.out")
    assert box["info"]["width_ticks"] == to_ticks("50ns")
    np.testing.assert_allclose(box["info"]["amplitude"], [1.2, -1.2, 0.0])
    # breakpoints: ramp up 100->110 ns, flat to 160 ns, ramp down to 180 ns
    wave = dict(zip(probe.times, (tuple(v) for v in probe.values)))
    assert wave[to_ticks("100ns")] == (0, 0, 0)            # ramp starts from 0
    assert wave[to_ticks("110ns")] == (1.2, -1.2, 0.0)     # flat top reached after the rise
    assert wave[to_ticks("160ns")] == (1.2, -1.2, 0.0)     # fall starts after the full width
    assert sorted(wave) == [0, to_ticks("100ns"), to_ticks("110ns"), to_ticks("160ns")]
    assert out.segment[2] == to_ticks("180ns") and np.all(out.segment[3] == 0)
    assert sim.events[0]["kind"] == "pulse" and sim.events[0]["width_ticks"] == to_ticks("50ns")


def test_mid_edge_value_and_fwhm():
    p = PulseParams(amplitude=2.0, width=40 * ns, rise=10 * ns, fall=10 * ns)
    sim, gen, _ = rig(p, n=1)
    fire_at(sim, gen, to_ticks("10ns"))
    sim.run(to_ticks("15ns"))
    assert sim.net("pg.out").value()[0] == pytest.approx(1.0)   # half-way up the rise
    sim.run(to_ticks("65ns"))
    assert sim.net("pg.out").value()[0] == pytest.approx(1.0)   # half-way down the fall
    # FWHM = 15 ns .. 65 ns = width + (rise + fall)/2


def test_clock_quantisation_and_min_width():
    p = PulseParams(width=37 * ns, clock=10 * ns, min_width=30 * ns)
    assert p.quantise(37e-9) == to_ticks("40ns")
    assert p.quantise(34e-9) == to_ticks("30ns")
    assert p.quantise(12e-9) == to_ticks("30ns")     # raised to the minimum width
    assert p.quantise(0.0) == 0
    p2 = PulseParams(clock=10 * ns, min_width=25 * ns)
    assert p2.min_width_ticks == to_ticks("30ns")     # rounded up to the clock
    p3 = PulseParams(clock=10 * ns)
    assert p3.quantise(4e-9) == 0                      # rounds to zero clocks: nothing
    sim, gen, _ = rig(p, n=1)
    box = fire_at(sim, gen, 5, width_ticks=to_ticks("52ns"))
    sim.run()
    assert box["info"]["width_ticks"] == to_ticks("50ns")


def test_zero_width_plays_nothing_and_overlap_is_an_error():
    sim, gen, probe = rig(PulseParams(), n=1)
    box = fire_at(sim, gen, 5, width_ticks=0)
    sim.run()
    assert box["info"]["width_ticks"] == 0 and probe.times == [0]
    gen.fire()
    with pytest.raises(SimulationError, match="while a pulse is playing"):
        gen.fire()


def test_jitter_and_amplitude_noise_statistics_and_determinism():
    p = PulseParams(amplitude=1.0, width=100 * ns, jitter_c2c=1 * ns, amplitude_c2c=0.05)

    def widths(seed_run):
        c = Circuit()
        gen = c.add(PulseGenerator("pg", p, n_lines=4))
        c.add(Sink("load", 4))
        c.connect("pg.out", "load.in")
        sim = c.build(seed=1, run_seed=seed_run)
        ws, amps = [], []

        def proc():
            for _ in range(400):
                info = yield gen.fire()
                ws.append(info["width_ticks"])
                amps.append(info["amplitude"])
                yield sim.env.timeout(10)

        sim.env.process(proc())
        sim.run()
        return np.array(ws), np.array(amps)

    w, a = widths(1)
    w2, a2 = widths(1)
    np.testing.assert_array_equal(w, w2)
    np.testing.assert_array_equal(a, a2)
    assert not np.array_equal(w, widths(2)[0])
    assert np.mean(w) == pytest.approx(to_ticks("100ns"), abs=300)
    assert np.std(w) == pytest.approx(math.sqrt(2) * 1000, rel=0.12)   # two edges, 1 ns each
    assert np.std(a) == pytest.approx(0.05, rel=0.1)
    assert np.std(a[:, 0] - a[:, 1]) > 0                                 # per-line amplitude noise


def test_energy_of_line_capacitance():
    p = PulseParams(amplitude=0.5, width=10 * ns, c_load=1e-12)
    sim, gen, _ = rig(p, polarity=[1, -1, 0])
    fire_at(sim, gen, 1)
    sim.run()
    assert gen.energy_j == pytest.approx(2 * 1e-12 * 0.25)
    assert gen.n_pulses == 1


def test_bad_polarity_is_rejected():
    sim, gen, _ = rig(PulseParams(), n=2)
    with pytest.raises(ConfigError, match="polarity: must be -1, 0 or \\+1"):
        gen.fire(polarity=[1, 0.5])
    with pytest.raises(ConfigError, match="width_ticks"):
        gen.fire(width_ticks=-3)


@pytest.mark.parametrize("kw,match", [
    (dict(amplitude=math.inf), "PulseParams.amplitude: must be finite"),
    (dict(width=-1e-9), "PulseParams.width: must not be negative"),
    (dict(width=1.5e-12), "PulseParams.width: .* not a whole number of ticks"),
    (dict(rise=-1e-9), "PulseParams.rise: must not be negative"),
    (dict(fall=math.nan), "PulseParams.fall: must not be NaN"),
    (dict(min_width=-1.0), "PulseParams.min_width: must not be negative"),
    (dict(clock=0.0), "PulseParams.clock: must be positive"),
    (dict(clock=2.5e-12), "PulseParams.clock: .* not a whole number of ticks"),
    (dict(jitter_c2c=-1e-12), "PulseParams.jitter_c2c: must not be negative"),
    (dict(amplitude_c2c=-0.1), "PulseParams.amplitude_c2c: must not be negative"),
    (dict(c_load=-1e-12), "PulseParams.c_load: must not be negative"),
])
def test_pulse_params_validation(kw, match):
    with pytest.raises(ConfigError, match=match):
        PulseParams(**kw)


def test_generator_validation():
    with pytest.raises(ConfigError, match="PulseGenerator.n_lines"):
        PulseGenerator("g", PulseParams(), n_lines=0)
    with pytest.raises(ConfigError, match="PulseGenerator.params"):
        PulseGenerator("g", {"width": 1})
    with pytest.raises(SimulationError, match="build the circuit"):
        PulseGenerator("g").fire()
