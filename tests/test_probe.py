import numpy as np
import pytest

from mssim import Circuit, write_csv, write_npz, write_vcd
from mssim.stimulus import PWLSource
from tests.test_net_circuit import Sink


def make():
    c = Circuit()
    c.add(PWLSource("src", 2, [("1ns", [0.5, -0.25]), ("2ns", [1.0, -1.0], "2ns"), ("6ns", [0.0, 0.0])]))
    c.add(Sink("s"))
    c.connect("src.out", "s.in")
    sim = c.build()
    return sim


def test_probe_records_exact_pwl():
    sim = make()
    pr = sim.probe("src.out")
    sim.run("10ns")
    t, v = pr.arrays()
    # reconstructing by interpolation gives the net's value mid-ramp
    mid = np.interp(3000, t, v[:, 0])
    assert mid == pytest.approx(0.75)
    assert v[-1].tolist() == [0.0, 0.0]


def test_decimated_probe():
    sim = make()
    pr = sim.probe("src.out", every="1ns")
    sim.run("5ns")
    t, v = pr.arrays()
    assert t.tolist() == [0, 1000, 2000, 3000, 4000]
    np.testing.assert_allclose(v[3], [0.75, -0.625])


def test_vcd_roundtrip_with_independent_parser(tmp_path):
    from vcdvcd import VCDVCD

    sim = make()
    pr = sim.probe("src.out")
    sim.run("10ns")
    path = write_vcd([pr], tmp_path / "w.vcd")
    vcd = VCDVCD(str(path))
    t, v = pr.arrays()
    for k in range(2):
        tv = [(int(tt), float(x)) for tt, x in vcd[f"src.out_{k}"].tv]
        # the value in force at each recorded tick equals the probe's last value at that tick
        for ti in sorted(set(t.tolist())):
            in_force = [x for tt, x in tv if tt <= ti][-1]
            expected = v[np.nonzero(t == ti)[0][-1], k]
            assert in_force == pytest.approx(expected, abs=1e-15), (k, ti)
    assert "1 ps" in path.read_text().split("$timescale")[1].split("$end")[0]


def test_csv_and_npz(tmp_path):
    sim = make()
    pr = sim.probe("src.out", every="1ns")
    sim.run("3ns")
    rows = (write_csv([pr], tmp_path / "w.csv")).read_text().strip().splitlines()
    assert rows[0] == "time_s,signal,value"
    assert "1e-09,src.out[0],0.5" in rows
    data = np.load(write_npz([pr], tmp_path / "w.npz"))
    assert data["src.out__t"].tolist() == [0, 1000, 2000]
    np.testing.assert_allclose(data["src.out__v"][1], [0.5, -0.25])
