"""Scenario files: loading, inheritance, overrides and readable validation errors.

A scenario is a TOML file describing a whole experiment.  This module knows
nothing of what the sections mean (the schema lives with the components); it
provides the generic parts:

* :func:`load_toml` reads one file and turns every way it can be broken
  (missing, a folder, empty, binary, TOML syntax, duplicate keys) into a
  one-line :class:`ScenarioError`;
* :func:`load_scenario` follows ``base = "other.toml"`` (relative to the file,
  recursively, with cycle detection), deep-merges, then applies ``--set
  dotted.key=VALUE`` overrides;
* :func:`format_validation_error` turns a pydantic ``ValidationError`` into
  ``FILE: dotted.field: reason (got VALUE); did you mean 'x'?``.
"""

from __future__ import annotations

import copy
import difflib
import tomllib
from pathlib import Path
from typing import Any, Iterable

from .errors import ConfigError


#: A scenario file larger than this is refused before it is read (no TOML experiment comes near it).
MAX_SCENARIO_BYTES = 4 * 2 ** 20


class ScenarioError(ConfigError):
    """A scenario file or override is broken; the message names file and field."""


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read one TOML file; every failure is a one-line :class:`ScenarioError`."""
    p = Path(path)
    if not p.exists():
        raise ScenarioError(f"{p}: no such file; check the path (scenarios ship in the scenarios/ folder)")
    if p.is_dir():
        raise ScenarioError(f"{p}: is a folder, not a scenario file; give the path of a .toml file")
    if not p.is_file():
        raise ScenarioError(f"{p}: is not a regular file (a device or a pipe); give the path of a .toml file")
    try:
        size = p.stat().st_size
        if size > MAX_SCENARIO_BYTES:
            raise ScenarioError(f"{p}: is {size / 2 ** 20:.1f} MiB, too large for a scenario file (at most "
                                f"{MAX_SCENARIO_BYTES // 2 ** 20} MiB); give the path of a .toml file")
        raw = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot be read ({exc.strerror}); check the path and its permissions") from None
    if not raw.strip():
        raise ScenarioError(f"{p}: the file is empty; a scenario needs at least a [network] and a [data] section")
    if b"\x00" in raw:
        raise ScenarioError(f"{p}: looks like a binary file, not TOML text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{p}: is not UTF-8 text (byte {exc.start}); save it as UTF-8 TOML") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc).splitlines()[0]
        if "overwrite" in msg.lower():
            msg += " (a key or table is defined twice)"
        raise ScenarioError(f"{p}: TOML error: {msg}") from None
    return data


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into a copy of ``base``: tables merge, other values replace."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _resolve(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    path = path.resolve() if path.exists() else path
    if path in seen:
        chain = " -> ".join(str(s) for s in (*seen, path))
        raise ScenarioError(f"{path}: 'base' inheritance loops ({chain}); remove one 'base' key")
    data = load_toml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ScenarioError(f"{path}: base: must be a file name string (got {base!r})")
    base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
    parent = _resolve(base_path, (*seen, path))
    return deep_merge(parent, data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``dotted.key=VALUE``.  VALUE is read as a TOML value when it is
    one (``0.1``, ``true``, ``[1, 2]``, ``"x"``), else kept as a bare string
    (``10us``, ``team``)."""
    if "=" not in text:
        raise ScenarioError(f"--set {text!r}: write it as dotted.key=VALUE, e.g. --set training.epochs=50")
    key, _, value = text.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p.strip() for p in parts):
        raise ScenarioError(f"--set {text!r}: the key {key!r} is not a dotted path such as training.alpha")
    value = value.strip()
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return [p.strip() for p in parts], parsed


def apply_overrides(cfg: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides to a copy of ``cfg``."""
    out = copy.deepcopy(cfg)
    for text in overrides:
        parts, value = parse_override(text)
        set_dotted(out, parts, value, what=f"--set {text!r}")
    return out


def set_dotted(cfg: dict[str, Any], parts: list[str], value: Any, *, what: str = "key") -> None:
    """Set ``cfg[parts[0]][parts[1]]... = value`` in place, creating tables on the way.

    A part that is a whole number indexes into an existing list (an array of
    tables such as ``faults.events.0.fraction``).
    """
    node: Any = cfg
    for depth, p in enumerate(parts):
        last = depth == len(parts) - 1
        here = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not p.isdigit() or int(p) >= len(node):
                raise ScenarioError(f"{what}: {here}: {'.'.join(parts[:depth]) or 'this'} is a list of "
                                    f"{len(node)}; index it with 0..{len(node) - 1}")
            key: Any = int(p)
        elif isinstance(node, dict):
            key = p
        else:
            raise ScenarioError(f"{what}: {'.'.join(parts[:depth])} is a value, not a section")
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and key not in node:
                if parts[depth + 1].isdigit():
                    raise ScenarioError(f"{what}: {here} does not exist, so it cannot be indexed; define "
                                        f"[[{here}]] tables in the scenario file first")
                node[key] = {}
            node = node[key]


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Load a scenario with its ``base`` chain and the given overrides applied."""
    cfg = _resolve(Path(path), ())
    return apply_overrides(cfg, overrides)


def format_validation_error(exc: Any, source: str, model: Any = None) -> ScenarioError:
    """Turn a pydantic ``ValidationError`` into a one-line :class:`ScenarioError`.

    Reports only the first error (one clear line), with the dotted field path,
    the reason, the offending value, and a did-you-mean for misspelt keys.
    """
    errors = exc.errors()
    if not errors:  # pragma: no cover
        return ScenarioError(f"{source}: invalid scenario")
    e = errors[0]
    loc = [str(x) for x in e.get("loc", ()) if not isinstance(x, int) or True]
    dotted = ".".join(loc) if loc else "(top level)"
    typ = e.get("type", "")
    msg = e.get("msg", "invalid")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if typ == "extra_forbidden":
        hint = ""
        known = _known_fields(model, loc[:-1]) if model is not None else []
        close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
        if close:
            hint = f"; did you mean {close[0]!r}?"
        elif known:
            hint = f"; known keys here: {', '.join(sorted(known))}"
        return ScenarioError(f"{source}: {dotted}: unknown key{hint}")
    got = e.get("input")
    more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    if typ == "missing":
        return ScenarioError(f"{source}: {dotted}: required key is missing{more}")
    got_txt = repr(got)
    if len(got_txt) > 60:
        got_txt = got_txt[:57] + "..."
    return ScenarioError(f"{source}: {dotted}: {msg} (got {got_txt}){more}")


def _known_fields(model: Any, loc: list[str]) -> list[str]:
    """Field names of the (nested) pydantic model at ``loc``."""
    cur = model
    for part in loc:
        fields = getattr(cur, "model_fields", None)
        if not fields or part not in fields:
            return []
        ann = fields[part].annotation
        cur = _model_in(ann)
        if cur is None:
            return []
    fields = getattr(cur, "model_fields", None)
    return list(fields) if fields else []


def _model_in(ann: Any) -> Any:
    if hasattr(ann, "model_fields"):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        m = _model_in(arg)
        if m is not None:
            return m
    return None
