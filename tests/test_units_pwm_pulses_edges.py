"""Edge cases the mutation score (tools/mutation.py, docs/testing.md) found unchecked in units,
the PWM and the pulse generator: each test kills a named mutant of tools/mutants.toml.

Kept apart from test_units.py / test_errorcircuits.py / test_pulses.py so as not to collide with
their owners' rewrites; fold them in when convenient.
"""

import numpy as np
import pytest

from components.errorcircuits import PWM, PWMParams
from components.pulses import PulseGenerator, PulseParams
from mssim import Circuit, Component, Port
from mssim.errors import ConfigError
from mssim.units import ns, parse_quantity, to_ticks, us


def test_micro_sign_and_upper_case_kilo_prefixes():
    """Kills units-micro-sign and units-kilo: every spelling of a prefix has its own table entry."""
    assert parse_quantity("2.5 µs", "s") == pytest.approx(2.5e-6, rel=1e-15)
    assert parse_quantity("2.5 μs", "s") == pytest.approx(2.5e-6, rel=1e-15)   # Greek mu
    assert parse_quantity("2.5us", "s") == pytest.approx(2.5e-6, rel=1e-15)
    assert parse_quantity("16K", "ohm") == 16e3
    assert parse_quantity("16k", "ohm") == 16e3


def test_to_ticks_rejects_a_hundredth_of_a_tick():
    """Kills units-tick-tolerance: 1 ns + 0.01 ps is not a whole number of picoseconds."""
    assert to_ticks(1e-9) == 1000
    with pytest.raises(ConfigError, match="whole number of ticks"):
        to_ticks(1e-9 + 1e-14)


def test_pwm_width_equal_to_t_min_is_kept():
    """Kills pwm-tmin-inclusive: t_min is the shortest *allowed* width, so exactly t_min passes."""
    pwm = PWM(PWMParams(gain=1 * us, clock=10 * ns, t_min=100 * ns, t_max=2 * us, below_min="zero"))
    assert pwm.width_ticks(0.1) == to_ticks("100ns")
    assert pwm.width_ticks(0.094) == 0                 # 90 ns after quantisation: below t_min


class _Sink(Component):
    def __init__(self, name, n):
        super().__init__(name)
        self.n = n

    def ports(self):
        return [Port("in", "voltage", self.n, "in")]


def test_amplitude_noise_is_relative_to_the_amplitude():
    """Kills pulses-amplitude-noise: at 0.5 V a 5 % c2c spread is 25 mV, not 50 mV (test_pulses.py
    checks it at 1 V, where relative and absolute noise coincide)."""
    p = PulseParams(amplitude=0.5, width=100 * ns, amplitude_c2c=0.05)
    c = Circuit()
    gen = c.add(PulseGenerator("pg", p, n_lines=4))
    c.add(_Sink("load", 4))
    c.connect("pg.out", "load.in")
    sim = c.build(seed=1)
    amps = []

    def proc():
        for _ in range(300):
            info = yield gen.fire()
            amps.append(info["amplitude"])
            yield sim.env.timeout(10)

    sim.env.process(proc())
    sim.run()
    a = np.array(amps)
    assert np.mean(a) == pytest.approx(0.5, abs=0.003)
    assert np.std(a) == pytest.approx(0.025, rel=0.1)
