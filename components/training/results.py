"""Writing a run's results folder, atomically.

Everything is written into a temporary sibling folder first and moved into
place only when complete, so a failed or interrupted run never leaves a
half-written results folder.  :class:`OutputFolder` claims ``--out`` before the
simulation starts: it refuses a non-empty folder unless it is an mssim results
folder and ``--overwrite`` was given, checks that the folder can be written,
takes a lock (a second concurrent run into the same folder is refused) and
removes temporary folders left by mssim processes that no longer exist.

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
import socket
import tempfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from mssim.errors import ConfigError, SimulationError

HISTORY_COLUMNS = ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "sim_time_s", "energy_j", "write_pulses"]


#: File in every published run folder: what makes a folder "an mssim results folder".
RESULTS_MARKER = ".mssim-results"
#: File in every temporary or retired folder mssim creates; holds "host pid".
TMP_MARKER = ".mssim-tmp"


def _jsonable(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _owner_tag() -> str:
    return f"{socket.gethostname()} {os.getpid()}"


def _pid_alive(tag: str) -> bool:
    """Whether the process named by a ``"host pid"`` tag may still run (other hosts: assume yes)."""
    try:
        host, pid_s = tag.split()
        pid = int(pid_s)
    except ValueError:
        return False
    if host != socket.gethostname():
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temp_file_prefix(path: str | Path) -> str:
    """Prefix of the temporary file an atomic write of ``path`` uses: host and pid in the name, so a
    file left by a killed process is removed by :func:`clean_stale_temps` once that process is gone."""
    return f".{Path(path).name}.mssim-file~{socket.gethostname()}~{os.getpid()}~"


def is_results_folder(path: str | Path) -> bool:
    """An mssim run folder: it holds the marker, or (older runs) both metrics.json and config.toml."""
    p = Path(path)
    return (p / RESULTS_MARKER).is_file() or ((p / "metrics.json").is_file() and (p / "config.toml").is_file())


def clean_stale_temps(parent: str | Path) -> list[Path]:
    """Remove the temporary folders in ``parent`` that carry mssim's marker and whose process is gone.

    Only folders holding :data:`TMP_MARKER` are touched, so nothing of the user's is ever removed.
    Returns the folders removed.
    """
    removed = []
    parent = Path(parent)
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for d in entries:
        if not d.name.startswith(".") or not d.is_dir() or d.is_symlink():
            continue
        m = d / TMP_MARKER
        try:
            tag = m.read_text().strip()
        except OSError:
            continue
        if not _pid_alive(tag):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    for f in parent.glob(".*.mssim-file~*~*~*"):  # single files written atomically (checkpoints, tables, plots)
        try:
            _, host, pid, _ = f.name.split("~")
        except ValueError:
            continue
        if f.is_file() and not _pid_alive(f"{host} {pid}"):
            f.unlink(missing_ok=True)
            removed.append(f)
    for lock in parent.glob(".*.mssim-lock"):
        try:
            tag = lock.read_text().strip()
        except OSError:
            continue
        if not _pid_alive(tag):
            lock.unlink(missing_ok=True)
    return removed


class OutputFolder:
    """The results folder of one run, claimed before the simulation starts.

    ``check()`` (no side effects) refuses: an empty path; a path below a regular file;
    an existing file; an existing non-empty folder unless it is an mssim results folder
    and ``overwrite`` is set; a folder whose nearest existing parent cannot be written.
    ``acquire()`` then creates the parent folders, removes stale mssim temporary folders
    there and takes the lock ``PARENT/.NAME.mssim-lock`` (``"host pid"``), refusing while
    another live process holds it.  ``release()`` drops the lock and removes the parent
    folders it created if nothing was published.  Every message names ``option``.

    Parameters
    ----------
    out : path
        The folder.
    overwrite : bool
        Allow replacing an existing mssim results folder.
    option : str
        How the user named it (``--out``, ``output.dir``, ``resume DIR``), for messages.
    """

    def __init__(self, out: str | Path, *, overwrite: bool = False, option: str = "--out") -> None:
        if str(out).strip() == "":
            raise ConfigError(f"{option}: the folder name is empty; give a folder such as results/run1")
        self.out = Path(out)
        self.overwrite = bool(overwrite)
        self.option = option
        self.lock: Path | None = None
        self._created: list[Path] = []
        self.published = False

    def _err(self, reason: str, fix: str) -> ConfigError:
        return ConfigError(f"{self.option} {self.out}: {reason}; {fix}")

    def check(self) -> None:
        """Refuse a folder that cannot be used, before anything is simulated or written."""
        out = self.out
        if out.name in ("", ".", ".."):
            raise self._err("is not a folder name mssim can replace atomically", "give a named folder such as results/run1")
        for anc in [out, *out.parents]:
            if anc.exists() or anc.is_symlink():
                if not anc.is_dir():
                    if anc == out:
                        raise self._err("exists and is not a folder", "choose another --out")
                    raise self._err(f"{anc} is a file, so no folder can be made below it", "choose another --out")
                break
        if out.is_dir():
            try:
                entries = [p.name for p in out.iterdir()]
            except OSError as exc:
                raise self._err(f"cannot be read ({exc.strerror})", "choose another --out") from None
            if entries:
                if not is_results_folder(out):
                    raise self._err(f"is not empty and not an mssim results folder ({len(entries)} entries, e.g. "
                                    f"{sorted(entries)[0]!r}); mssim never deletes files it did not write",
                                    "choose another --out or an empty folder")
                if not self.overwrite:
                    raise self._err("already holds the results of a run", "pass --overwrite to replace them, or choose "
                                    "another --out")
        anc = next(a for a in [out.parent, *out.parent.parents] if a.exists()) if not out.parent.exists() else out.parent
        if not anc.is_dir() or not os.access(anc, os.W_OK | os.X_OK):
            raise self._err(f"cannot be written ({anc} is not writable)", "choose a folder you can write to")

    def acquire(self) -> "OutputFolder":
        """Create the parents, clean stale temporary folders, take the lock.  Call after :meth:`check`."""
        parent = self.out.parent
        missing = [a for a in [parent, *parent.parents] if not a.exists()]
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._err(f"cannot create {parent} ({exc.strerror})", "choose a folder you can write to") from None
        self._created = missing
        clean_stale_temps(parent)
        lock = parent / f".{self.out.name}.mssim-lock"
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    tag = lock.read_text().strip()
                except OSError:
                    tag = ""
                if tag and _pid_alive(tag):
                    self.release()
                    raise self._err(f"another mssim run (host and pid {tag}) is writing there",
                                    "wait for it to finish or choose another --out")
                lock.unlink(missing_ok=True)
                continue
            except OSError as exc:
                self.release()
                raise self._err(f"cannot be written ({exc.strerror})", "choose a folder you can write to") from None
            with os.fdopen(fd, "w") as fh:
                fh.write(_owner_tag() + "\n")
            self.lock = lock
            return self
        self.release()  # pragma: no cover - lost a race twice
        raise self._err("is being claimed by another run", "try again")

    def release(self) -> None:
        """Drop the lock; remove parent folders this claim created if they stayed empty."""
        if self.lock is not None:
            self.lock.unlink(missing_ok=True)
            self.lock = None
        if not self.published:
            for d in self._created:  # innermost first
                try:
                    d.rmdir()
                except OSError:
                    break
        self._created = []

    def __enter__(self) -> "OutputFolder":
        if self.lock is None:
            self.check()
            self.acquire()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.release()


def fresh_default(base: Path) -> Path:
    """``base`` if it is free (absent or empty), else ``base-2``, ``base-3``, ... (the README's default --out)."""
    def free(p: Path) -> bool:
        if p.exists() and (not p.is_dir() or any(p.iterdir())):
            return False
        lock = p.parent / f".{p.name}.mssim-lock"
        try:
            return not _pid_alive(lock.read_text().strip())
        except OSError:
            return True

    if free(base):
        return base
    k = 2
    while not free(base.with_name(f"{base.name}-{k}")):
        k += 1
    return base.with_name(f"{base.name}-{k}")


def check_finite(data: Any, where: str) -> None:
    """Raise :class:`SimulationError` naming the first non-finite number in ``data`` (nested dicts/lists)."""
    def walk(x: Any, path: str) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                walk(v, f"{path}[{i}]")
        elif isinstance(x, (float, np.floating)) and not np.isfinite(x):
            raise SimulationError(f"{where}: {path} is {float(x)!r}; the simulation produced a non-finite value, so "
                                  "nothing was written (check the scenario's extreme values)")
        elif isinstance(x, np.ndarray) and x.dtype.kind == "f" and not np.all(np.isfinite(x)):
            raise SimulationError(f"{where}: {path} holds non-finite values; nothing was written")

    walk(data, "")


class ResultsWriter:
    """Collects files in a temporary folder and publishes them atomically.

    Use as a context manager: on normal exit the folder is moved to ``out``;
    on an exception (or SIGINT/SIGTERM, which the CLI turns into one) the
    temporary folder is removed and ``out`` is untouched.  The temporary folder
    ``PARENT/.NAME.mssim-XXXX.tmp`` carries :data:`TMP_MARKER` with this
    process's id, so if the process is killed outright the next run into the
    same parent removes it.  The published folder carries :data:`RESULTS_MARKER`.
    ``overwrite`` allows replacing an existing mssim results folder (nothing else).
    """

    def __init__(self, out: str | Path, *, overwrite: bool = False) -> None:
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"--out {self.out}: exists and is not a folder; choose another --out")
        self.overwrite = overwrite
        self.tmp: Path | None = None

    def __enter__(self) -> "ResultsWriter":
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.mssim-", suffix=".tmp", dir=self.out.parent))
        (self.tmp / TMP_MARKER).write_text(_owner_tag() + "\n")
        return self

    def path(self, name: str) -> Path:
        assert self.tmp is not None
        return self.tmp / name

    def write_json(self, name: str, data: Any) -> Path:
        p = self.path(name)
        p.write_text(json.dumps(data, indent=2, default=_jsonable, allow_nan=False) + "\n")
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
        (self.tmp / TMP_MARKER).unlink()
        (self.tmp / RESULTS_MARKER).write_text("mssim run folder\n")
        if self.out.exists() and any(self.out.iterdir()):
            if not self.overwrite or not is_results_folder(self.out):
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise ConfigError(f"--out {self.out}: already exists and is not empty; pass --overwrite (for an mssim "
                                  "results folder) or choose another --out")
            old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.mssim-old-", suffix=".tmp", dir=self.out.parent))
            (old / TMP_MARKER).write_text(_owner_tag() + "\n")
            os.replace(self.out, old / "run")
            os.replace(self.tmp, self.out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if self.out.is_dir():
                self.out.rmdir()  # empty: replace it
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
