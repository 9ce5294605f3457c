"""Writing a run's results folder, atomically.

Everything is written into a temporary sibling folder first and moved into
place only when complete, so a failed or interrupted run never leaves a
half-written results folder (and never clobbers an existing one unless asked).

Folder contents::

    metrics.json      final metrics (seed, epochs, accuracies, losses, sim_time_s, wall_time_s, energy_j, write_pulses, ...)
    history.csv       one row per epoch
    events.jsonl      the run's event log (phases, faults, pulses if logged)
    config.toml       the resolved scenario (after base/overrides), with seed and mssim version
    learning_curve.png, weights.png, ...   plots (optional)
    step.vcd          waveforms of one training step (optional)
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from mssim.errors import ConfigError

HISTORY_COLUMNS = ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "sim_time_s", "energy_j", "write_pulses"]


def _jsonable(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


class ResultsWriter:
    """Collects files in a temporary folder and publishes them atomically.

    Use as a context manager: on normal exit the folder is moved to ``out``;
    on an exception the temporary folder is removed and ``out`` is untouched.
    """

    def __init__(self, out: str | Path, *, overwrite: bool = True) -> None:
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"output: {self.out} exists and is not a folder; choose another --out")
        self.overwrite = overwrite
        self.tmp: Path | None = None

    def __enter__(self) -> "ResultsWriter":
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".tmp", dir=self.out.parent))
        return self

    def path(self, name: str) -> Path:
        assert self.tmp is not None
        return self.tmp / name

    def write_json(self, name: str, data: Any) -> Path:
        p = self.path(name)
        p.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
        return p

    def write_history(self, rows: Iterable[dict[str, Any]], name: str = "history.csv") -> Path:
        p = self.path(name)
        with p.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=HISTORY_COLUMNS, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow({k: (repr(float(v)) if isinstance(v, (float, np.floating)) else v) for k, v in r.items()})
        return p

    def write_events(self, events: Iterable[dict[str, Any]], name: str = "events.jsonl") -> Path:
        p = self.path(name)
        with p.open("w") as fh:
            for e in events:
                fh.write(json.dumps(e, default=_jsonable) + "\n")
        return p

    def write_toml(self, name: str, data: dict[str, Any]) -> Path:
        import tomli_w

        p = self.path(name)
        p.write_text(tomli_w.dumps(_toml_clean(data)))
        return p

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.tmp is not None
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        if self.out.exists():
            if not self.overwrite:
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise ConfigError(f"output: {self.out} already exists; pass another --out or remove it")
            old = self.out.with_name(f".{self.out.name}.old{os.getpid()}")
            os.replace(self.out, old)
            os.replace(self.tmp, self.out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.out)


def _toml_clean(d: Any) -> Any:
    """Drop ``None`` values (TOML has no null) and convert numpy scalars."""
    if isinstance(d, dict):
        return {k: _toml_clean(v) for k, v in d.items() if v is not None}
    if isinstance(d, (list, tuple)):
        return [_toml_clean(v) for v in d if v is not None]
    if isinstance(d, np.generic):
        return d.item()
    return d
