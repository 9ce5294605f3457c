"""Fuzzing the scenario loader: whatever the bytes, a scenario loads or fails with one ConfigError line.

Through the CLI, every failure is exit status 2 with one line on stderr and no traceback.
"""

from __future__ import annotations

import string
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mssim.cli import main
from mssim.errors import ConfigError

from components.training.config import Scenario, load

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "scenarios" / "xor.toml"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

SECTIONS = {
    "data": ["task", "test_fraction", "target"],
    "network": ["hidden"],
    "device": ["model", "preset", "params"],
    "synapse": ["unit", "w_init", "params"],
    "neuron": ["activation", "gain", "v_sat", "opamp"],
    "timing": ["t_settle", "t_pert", "rise", "fall", "gap", "clock", "t_max", "v_write"],
    "training": ["algorithm", "rule", "epochs", "alpha", "c", "stop_at_accuracy", "baselines"],
    "output": ["plots", "vcd", "vcd_pattern"],
    "sweep": ["design", "params", "repeats", "seeds"],
}
names = st.sampled_from([k for ks in SECTIONS.values() for k in ks] + ["bogus", "epoch", "alpah"])
scalars = st.one_of(
    st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
    st.text(string.printable, max_size=12),
    st.sampled_from(["10us", "0.9 V", "-1us", "1.5ps", "16k", "team", "iris", "xor", "ideal", "1e400", "nan"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4))
sections = st.dictionaries(st.sampled_from(list(SECTIONS) + ["faults", "trainig"]),
                           st.dictionaries(names, values, max_size=4), max_size=4)


def check_load(path: Path) -> None:
    try:
        scn, _ = load(path)
    except ConfigError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg and "Traceback" not in msg
    else:
        assert isinstance(scn, Scenario)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("b") / "s.toml"
    p.write_bytes(data)
    check_load(p)


@FUZZ
@given(st.text(string.printable + "é☃[]=\"'#", max_size=200))
def test_random_text(tmp_path_factory, text):
    p = tmp_path_factory.mktemp("t") / "s.toml"
    p.write_text(text)
    check_load(p)


@FUZZ
@given(sections, st.booleans())
def test_structured_scenarios(tmp_path_factory, doc, with_base):
    p = tmp_path_factory.mktemp("d") / "s.toml"
    if with_base:
        doc = {"base": str(XOR), **doc}
    p.write_text(tomli_w.dumps(doc))
    check_load(p)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sections)
def test_cli_validate_never_shows_a_traceback(tmp_path_factory, capsys, doc):
    p = tmp_path_factory.mktemp("c") / "s.toml"
    p.write_text(tomli_w.dumps({"base": str(XOR), **doc}))
    code = main(["validate", str(p)])
    _, err = capsys.readouterr()
    assert code in (0, 2)
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("mssim validate: error: ")
