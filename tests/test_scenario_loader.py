import pytest

from mssim.scenario import ScenarioError, apply_overrides, load_scenario, load_toml, parse_override


def test_missing_folder_empty_binary_syntax_duplicate(tmp_path):
    with pytest.raises(ScenarioError, match="no such file"):
        load_toml(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="is a folder"):
        load_toml(tmp_path)
    (tmp_path / "e.toml").write_text("  \n")
    with pytest.raises(ScenarioError, match="empty"):
        load_toml(tmp_path / "e.toml")
    (tmp_path / "b.toml").write_bytes(b"\x00\x01\x02garbage")
    with pytest.raises(ScenarioError, match="binary"):
        load_toml(tmp_path / "b.toml")
    (tmp_path / "l.toml").write_bytes(b"a = '\xff\xfe'")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_toml(tmp_path / "l.toml")
    (tmp_path / "s.toml").write_text("[training\nalpha = 1\n")
    with pytest.raises(ScenarioError, match=r"s\.toml: TOML error: .*line 1"):
        load_toml(tmp_path / "s.toml")
    (tmp_path / "d.toml").write_text("[training]\nalpha = 1\nalpha = 2\n")
    with pytest.raises(ScenarioError, match="defined twice"):
        load_toml(tmp_path / "d.toml")


def test_base_inheritance_and_overrides(tmp_path):
    (tmp_path / "a.toml").write_text("seed = 1\n[training]\nalpha = 0.1\nepochs = 5\n[data]\ntask = 'iris'\n")
    (tmp_path / "b.toml").write_text("base = 'a.toml'\n[training]\nalpha = 0.2\n")
    cfg = load_scenario(tmp_path / "b.toml", ["training.epochs=7", "timing.t_settle=10us", "data.task=\"xor\""])
    assert cfg == {"seed": 1, "training": {"alpha": 0.2, "epochs": 7}, "data": {"task": "xor"}, "timing": {"t_settle": "10us"}}


def test_base_loop(tmp_path):
    (tmp_path / "a.toml").write_text("base = 'b.toml'\n")
    (tmp_path / "b.toml").write_text("base = 'a.toml'\n")
    with pytest.raises(ScenarioError, match="loops"):
        load_scenario(tmp_path / "a.toml")


def test_override_errors():
    with pytest.raises(ScenarioError, match="dotted.key=VALUE"):
        parse_override("training.alpha")
    with pytest.raises(ScenarioError, match="not a dotted path"):
        parse_override("training..alpha=1")
    with pytest.raises(ScenarioError, match="is a value, not a section"):
        apply_overrides({"seed": 1}, ["seed.x=2"])
    assert parse_override("a.b=[1, 2]") == (["a", "b"], [1, 2])
    assert parse_override("a=team") == (["a"], "team")
