"""Fuzzing ``mssim run`` over scenario fields and command-line options (issue 11).

Whatever the input: the exit status is 0 or 2; on 2 stderr is exactly one line and no
traceback; nothing is left behind (no temporary folder, lock or half-written results) and
nothing the user had is deleted or changed.
"""

from __future__ import annotations

from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mssim.cli import main

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "scenarios" / "xor.toml"

weird = st.sampled_from([0, -1, 1e300, -1e300, 1e-300, "1e400", "nan", "-inf", "", "x", "10 parsec", "1.5ps",
                         [], [1, 2], {"a": 1}, True])


def mostly(valid: list, extra: list = ()) -> st.SearchStrategy:
    """Valid values three times in four, else a broken one: most runs get past the schema."""
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), st.sampled_from(valid),
                     st.one_of(weird, st.sampled_from(list(extra))) if extra else weird)


FIELDS = {
    "training.epochs": mostly([1, 2], [-1, 1.5, "2"]),
    "training.alpha": mostly([0.01, 0.3, 1e-6, 999.0], [2e3]),
    "training.c": mostly([0.01, 0.2, 0.9], [1.5]),
    "training.eval_every": mostly([1, 2, 5], [-2]),
    "training.rule": mostly(["maeda", "spsa", "sign"], ["newton"]),
    "training.perturbation": mostly(["electrical", "written"], ["magnetic"]),
    "training.algorithm": mostly(["wsp", "serial_wp", "rwc"], ["sgd"]),
    "network.hidden": mostly([[1], [3, 2], [600]], [[0], [], "x", [-4]]),
    "neuron.v_sat": mostly([0.5, 1.0, 900.0, 1e-6], [2e3]),
    "neuron.gain": mostly([0.1, 2.0, 1e5], [1e7]),
    "neuron.activation": mostly(["tanh", "clip", "rails", "linear"], ["relu"]),
    "neuron.opamp": mostly(["ideal", "typical", "opa27"], ["lm741"]),
    "synapse.w_init": mostly([0.0, 0.5, 0.99], [1.0]),
    "synapse.unit": mostly(["pair", "differential", "bridge", "reference"], ["quad"]),
    "synapse.params.v_read": mostly([0.01, 0.2, 1e3], [1e300, -1.0]),
    "device.model": mostly(["hp", "team", "vteam", "yakopcic"], ["ibm"]),
    "device.preset": mostly(["symmetric", "hp_tio2"], ["nope"]),
    "device.params.r_on": mostly([100.0, 1e3, 1e4], [1e7, -5.0]),
    "timing.t_settle": mostly(["1us", "20us", 1e-6], ["0", "-1us", "1.5ps", "1e9s", "x"]),
    "timing.v_write": mostly([0.5, 1.0, 3.0, 100.0], [-5.0]),
    "timing.t_max": mostly(["10us", "1us", "100us"], ["0", "1ps", "1s"]),
    "timing.gap": mostly(["0", "100ns", "1us"], ["-1ns"]),
    "output.vcd_pattern": mostly([0, 3], [1000, -1]),
    "output.plots": mostly([False, True]),
    "name": mostly(["run", "ok_name"], ["", "../x", ".hidden", "a/b"]),
    "faults.events": mostly([
        [], [{"kind": "open", "layer": 0, "devices": [0, 1]}], [{"kind": "stuck_on", "fraction": 0.1}],
        [{"kind": "opamp_offset", "value": 0.01, "at_epoch": 1}], [{"kind": "drop_pulse", "rate": 0.1}],
    ], [[{"kind": "open", "layer": 9, "fraction": 0.1}], [{"kind": "stuck_on", "at_epoch": 50, "fraction": 0.1}],
        [{"kind": "stuck_off", "at_time": "1s", "count": 2}], [{"kind": "drift", "value": 1e300}],
        [{"kind": "opamp_stuck", "layer": 1, "neurons": [7], "value": 0.1}]]),
}
OUT = st.sampled_from(["fresh", "fresh", "fresh", "", "a_file", "below_file", "foreign", "results", "nested/new/dir"])
VCD = st.sampled_from([None, None, None, "folder", "w.vcd", "", "a_file/x.vcd"])
ANY_OPTS = st.fixed_dictionaries({
    "out": OUT, "overwrite": st.booleans(), "vcd": VCD,
    "seed": st.sampled_from([None, None, None, 0, 3, -1]),
    "checkpoint": st.sampled_from([None, None, None, 1, 0, -1]),
    "init": st.sampled_from([None, None, None, None, "garbage", "missing"]),
})
PLAIN = {"out": "fresh", "overwrite": False, "vcd": None, "seed": None, "checkpoint": None, "init": None}
OPTS = st.one_of(st.just(PLAIN), st.just({**PLAIN, "checkpoint": 1}), ANY_OPTS)   # two in three get to run


def _prepare(d: Path) -> dict[str, bytes]:
    """The user's files around the run; returns their contents, to check nothing changed."""
    (d / "a_file").write_text("mine")
    (d / "foreign").mkdir()
    (d / "foreign" / "notes.txt").write_text("thesis")
    (d / "results").mkdir()
    for name in ("metrics.json", "config.toml"):
        (d / "results" / name).write_text("{}")
    (d / "folder").mkdir()
    (d / "garbage").write_bytes(b"\x00garbage")
    return {str(p.relative_to(d)): p.read_bytes() for p in d.rglob("*") if p.is_file()}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(list(FIELDS)), st.none(), max_size=3).flatmap(
    lambda keys: st.fixed_dictionaries({k: FIELDS[k] for k in keys})), OPTS)
def test_run_never_loses_files_nor_shows_a_traceback(tmp_path_factory, capsys, monkeypatch, fields, opts):
    d = tmp_path_factory.mktemp("fuzz")
    monkeypatch.chdir(d)
    before = _prepare(d)
    doc = {"base": str(XOR), "training": {"epochs": 1, "baselines": []}, "neuron": {"opamp": "ideal"},
           "timing": {"t_settle": "2us"}, "output": {"plots": False}}
    argv = ["run", "s.toml", "--no-progress"]
    for key, value in fields.items():
        parts = key.split(".")
        node = doc
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    (d / "s.toml").write_text(tomli_w.dumps(doc))
    before["s.toml"] = (d / "s.toml").read_bytes()
    out = {"fresh": "r", "below_file": "a_file/r"}.get(opts["out"], opts["out"])
    argv += ["--out", out]
    if opts["overwrite"]:
        argv.append("--overwrite")
    if opts["vcd"] is not None:
        argv += ["--vcd", opts["vcd"]]
    if opts["seed"] is not None:
        argv += ["--seed", str(opts["seed"])]
    if opts["checkpoint"] is not None:
        argv += ["--checkpoint-every", str(opts["checkpoint"])]
    if opts["init"] is not None:
        argv += ["--init-weights", opts["init"]]

    code = main(argv)
    stdout, err = capsys.readouterr()
    event(f"exit {code}")                                           # --hypothesis-show-statistics
    assert code in (0, 2), (argv, fields, err)
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("mssim run: error: ") and "Traceback" not in err, err
    leftovers = [str(p.relative_to(d)) for p in d.rglob(".*") if "mssim" in p.name and p.name != ".mssim-results"]
    assert leftovers == [], leftovers
    assert not list(d.glob("*.checkpoint"))                          # finished or refused: no checkpoint stays
    after = {str(p.relative_to(d)): p.read_bytes() for p in d.rglob("*") if p.is_file()}
    replaced = d / "results" if opts["out"] == "results" and code == 0 else None
    for name, data in before.items():
        if replaced is not None and name.startswith("results/"):
            continue                                                 # an mssim folder, replaced on --overwrite
        assert after.get(name) == data, (name, argv)
    if code == 2:
        new = set(after) - set(before)
        assert not new, new                                         # a refused run writes nothing
