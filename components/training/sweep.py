"""Parameter sweeps: ``mssim sweep SCENARIO [--out DIR] [--workers N] [--scheduler ADDRESS]``.

A scenario's ``[sweep]`` section (see :class:`~components.training.config.SweepConfig`)
expands into *points*: design points (grid, zip or random over dotted keys)
times seeds.  Each point is the scenario with its keys set and its seed, run by
:func:`components.training.runner.run_scenario` into its own results folder
``DIR/p0000``, ``DIR/p0001``, ...  The table ``DIR/sweep.csv`` has one row per
point (sorted by point index): ``point``, one column per swept key (named by
the dotted key, holding the validated SI value), ``seed``, then the final
metrics.  Wall-clock times stay out of it (they are in each point's
``metrics.json``), so the table is bit-identical whoever runs it.

Execution goes through Dask: a local cluster of ``--workers`` single-threaded
processes on 127.0.0.1, or an existing cluster at ``--scheduler``.  A point is
one task; a worker that dies has its task rerun elsewhere by the scheduler, and
since each point's folder is written atomically (last file: ``metrics.json``)
and rows are keyed by point index, no point is lost or duplicated.
``--workers 0`` runs the points one after another in this process, without
Dask (for debugging).

Resuming: ``DIR/sweep.json`` records the expanded points and a digest of their
configurations.  Running the same sweep into the same ``DIR`` again skips every
point whose folder already holds ``metrics.json``; a different sweep in that
folder is refused.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import itertools
import json
import math
import os
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from mssim.errors import ConfigError, SimulationError
from mssim.rng import SeedTree
from mssim.scenario import set_dotted

from .config import SWEEP_METRICS, RandomRange, Scenario, load, validate_scenario

#: Final-metric columns of sweep.csv, after ``point``, the swept keys and ``seed``.
METRIC_COLUMNS = list(SWEEP_METRICS)


@dataclass(frozen=True)
class Point:
    """One run of a sweep: its index, the swept values (as given) and its seed."""

    index: int
    values: dict[str, Any]
    seed: int

    @property
    def name(self) -> str:
        return f"p{self.index:04d}"


# ---------------------------------------------------------------------- expansion
def design_points(sw: Any, seed: int) -> list[dict[str, Any]]:
    """The design points of a ``[sweep]`` section: a list of ``{dotted key: value}``.

    grid: every combination, the first key varying slowest; zip: element by
    element; random: ``samples`` draws from the run's seed tree (stream
    ``sweep``/``design`` of the scenario's seed), each key from its list or range.
    """
    keys = list(sw.params)
    if not keys:
        return [{}]
    if sw.design == "grid":
        return [dict(zip(keys, combo)) for combo in itertools.product(*(sw.params[k] for k in keys))]
    if sw.design == "zip":
        n = len(sw.params[keys[0]])
        return [{k: sw.params[k][j] for k in keys} for j in range(n)]
    rng = SeedTree(seed).build_stream("sweep", "design")
    out = []
    for _ in range(sw.samples):
        row = {}
        for k in keys:
            spec = sw.params[k]
            if isinstance(spec, RandomRange):
                if spec.log:
                    v = math.exp(rng.uniform(math.log(spec.low), math.log(spec.high)))
                else:
                    v = float(rng.uniform(spec.low, spec.high))
                row[k] = int(round(v)) if spec.integer else v
            else:
                row[k] = spec[int(rng.integers(len(spec)))]
        out.append(row)
    return out


def sweep_seeds(sw: Any, seed: int) -> list[int]:
    """``seeds`` if given, else ``repeats`` seeds ``seed, seed + 1, ...``."""
    if sw.seeds is not None:
        return list(sw.seeds)
    return [seed + k for k in range(sw.repeats)]


def expand(scn: Scenario) -> list[Point]:
    """Every point of the sweep, seeds innermost: index = design_index·n_seeds + seed_index."""
    seeds = sweep_seeds(scn.sweep, scn.seed)
    pts = []
    for d in design_points(scn.sweep, scn.seed):
        for s in seeds:
            pts.append(Point(len(pts), d, s))
    return pts


def point_raw(raw: dict[str, Any], point: Point) -> dict[str, Any]:
    """The scenario dict of one point: swept keys set, its seed, no ``[sweep]``, no progress bar."""
    r = copy.deepcopy(raw)
    r.pop("sweep", None)
    for key, value in point.values.items():
        set_dotted(r, key.split("."), copy.deepcopy(value), what=f"sweep.params.{key}")
    r["seed"] = int(point.seed)
    out = r.setdefault("output", {})
    if isinstance(out, dict):
        out["progress"] = False
        out.pop("dir", None)
    return r


def _dotted_get(d: Any, parts: Sequence[str]) -> Any:
    for p in parts:
        if isinstance(d, list) and p.isdigit() and int(p) < len(d):
            d = d[int(p)]
        elif isinstance(d, dict) and p in d:
            d = d[p]
        else:
            raise KeyError(p)
    return d


# ---------------------------------------------------------------------- one point (runs on a worker)
def accuracy_threshold(scn: Scenario) -> float:
    """The train accuracy that counts as 'reached' for time-to-accuracy: ``training.stop_at_accuracy``, else 1."""
    return float(scn.training.stop_at_accuracy) if scn.training.stop_at_accuracy is not None else 1.0


def row_from_folder(point_dir: str | Path, threshold: float = 1.0) -> dict[str, Any]:
    """The sweep.csv metrics of a finished point, read back from its folder.

    Used both right after a point runs and when resuming, so a resumed sweep
    writes exactly the rows a fresh one does.  ``epochs_to_accuracy`` and
    ``time_to_accuracy_s`` are the first history row whose train accuracy
    reaches ``threshold`` (empty if none does).
    """
    d = Path(point_dir)
    m = json.loads((d / "metrics.json").read_text())
    thr = float(threshold)
    ep_acc = t_acc = None
    hist = d / "history.csv"
    if hist.exists():
        with hist.open(newline="") as fh:
            for r in csv.DictReader(fh):
                try:
                    if float(r["train_accuracy"]) >= thr:
                        ep_acc, t_acc = int(r["epoch"]), float(r["sim_time_s"])
                        break
                except (KeyError, ValueError):
                    continue
    row = {k: m.get(k) for k in METRIC_COLUMNS}
    row["epochs_to_accuracy"] = ep_acc
    row["time_to_accuracy_s"] = t_acc
    return row


def run_point(raw: dict[str, Any], source: str, point_dir: str) -> dict[str, Any]:
    """Run one sweep point into ``point_dir`` (atomically) and return its metrics row.

    Module-level so that Dask can pickle it by reference.  A point whose folder
    already holds ``metrics.json`` is not rerun (a retried task after a worker
    died late, or a resumed sweep).
    """
    d = Path(point_dir)
    scn = validate_scenario(raw, source)
    if not (d / "metrics.json").exists():
        from .runner import run_scenario

        run_scenario(scenario=scn, raw=raw, out=d, progress=False)
    return row_from_folder(d, accuracy_threshold(scn))


# ---------------------------------------------------------------------- the sweep
def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (int, str)):
        return str(v)
    return json.dumps(v, sort_keys=True)


def _atomic_write(path: Path, text: str) -> None:
    from .results import temp_file_prefix

    fd, tmp = tempfile.mkstemp(prefix=temp_file_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def csv_text(keys: Sequence[str], points: Sequence[Point], resolved: Sequence[dict[str, Any]],
             rows: Sequence[dict[str, Any]]) -> str:
    """sweep.csv as text: one row per point, in point order."""
    lines = [",".join(["point", *keys, "seed", *METRIC_COLUMNS])]
    for p, res, row in zip(points, resolved, rows):
        cells = [str(p.index), *(_fmt(res[k]) for k in keys), str(p.seed), *(_fmt(row.get(c)) for c in METRIC_COLUMNS)]
        lines.append(",".join(_csv_cell(c) for c in cells))
    return "\n".join(lines) + "\n"


def _csv_cell(s: str) -> str:
    if any(ch in s for ch in ',"\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


class Sweep:
    """An expanded, validated sweep ready to run.

    Parameters
    ----------
    scenario : Scenario
        The validated base scenario (with its ``[sweep]`` section).
    raw : dict
        Its merged raw dict (``base`` and overrides applied).
    source : str
        File name for messages.
    out : path
        The sweep folder.
    """

    def __init__(self, scenario: Scenario, raw: dict[str, Any], source: str, out: str | Path) -> None:
        self.scn = scenario
        self.source = source
        self.out = Path(out)
        self.keys = list(scenario.sweep.params)
        self.points = expand(scenario)
        self.raws: list[dict[str, Any]] = []
        self.resolved: list[dict[str, Any]] = []
        self.thresholds: list[float] = []
        for p in self.points:
            where = f"{source} [sweep point {p.index}: " + ", ".join(
                [f"{k}={v!r}" for k, v in p.values.items()] + [f"seed={p.seed}"]) + "]"
            r = point_raw(raw, p)
            scn = validate_scenario(r, where)  # every point checked before anything runs
            dump = scn.model_dump(mode="json")
            res = {}
            for k in self.keys:
                try:
                    res[k] = _dotted_get(dump, k.split("."))
                except KeyError:
                    res[k] = p.values[k]
            self.raws.append(r)
            self.resolved.append(res)
            self.thresholds.append(accuracy_threshold(scn))
        blob = json.dumps(self.raws, sort_keys=True, default=str).encode()
        self.digest = hashlib.sha256(blob).hexdigest()

    def build_all(self) -> int:
        """Build the chip of every distinct point (seeds aside): everything a point's run checks before
        its first event, so a bad point is reported before any point runs.  Returns the chips built."""
        from .runner import build_run

        built = set()
        for p, r in zip(self.points, self.raws):
            key = json.dumps({k: v for k, v in r.items() if k != "seed"}, sort_keys=True, default=str)
            if key in built:
                continue
            built.add(key)
            where = self._where(p)
            build_run(validate_scenario(r, where), where)
        return len(built)

    def point_dir(self, p: Point) -> Path:
        return self.out / p.name

    def done(self) -> list[bool]:
        return [(self.point_dir(p) / "metrics.json").exists() for p in self.points]

    def check_folder(self) -> None:
        """Refuse a folder that is not empty and holds something other than this sweep."""
        out = self.out
        if out.exists() and not out.is_dir():
            raise ConfigError(f"sweep: {out} exists and is not a folder; choose another --out")
        manifest = out / "sweep.json"
        if out.exists() and any(out.iterdir()):
            if not manifest.exists():
                raise ConfigError(f"sweep: {out} is not empty and holds no sweep.json; choose another --out")
            try:
                old = json.loads(manifest.read_text())
            except (OSError, ValueError):
                raise ConfigError(f"sweep: {manifest} is unreadable; remove the folder or choose another --out") from None
            if old.get("digest") != self.digest:
                raise ConfigError(f"sweep: {out} holds a different sweep ({old.get('name')!r}, {old.get('n_points')} points); "
                                  "choose another --out, or remove that folder to start over")

    def _prepare_folder(self) -> None:
        self.check_folder()
        out, manifest = self.out, self.out / "sweep.json"
        out.mkdir(parents=True, exist_ok=True)
        info = {"name": self.scn.name, "source": self.source, "design": self.scn.sweep.design, "keys": self.keys,
                "metric": self.scn.sweep.metric, "n_points": len(self.points), "digest": self.digest,
                "points": [{"point": p.index, "dir": p.name, "seed": p.seed, "values": p.values} for p in self.points]}
        _atomic_write(manifest, json.dumps(info, indent=2, default=str) + "\n")

    def run(self, *, workers: int | None = None, scheduler: str | None = None, progress: bool = False,
            on_point: Callable[[int], Any] | None = None) -> Path:
        """Run every point not yet done, then write ``sweep.csv`` and the sweep plots.  Returns the folder."""
        self._prepare_folder()
        rows: dict[int, dict[str, Any]] = {}
        todo = []
        for p, ok in zip(self.points, self.done()):
            if ok:
                rows[p.index] = row_from_folder(self.point_dir(p), self.thresholds[p.index])
            else:
                todo.append(p)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(self.points), initial=len(rows), desc=self.scn.name, unit="point", file=sys.stderr)

        def finished(p: Point, row: dict[str, Any]) -> None:
            rows[p.index] = row
            if bar is not None:
                bar.update(1)
            if on_point is not None:
                on_point(p.index)

        failures: list[tuple[Point, BaseException]] = []
        try:
            if todo:
                if workers == 0 and scheduler is None:
                    for p in todo:
                        try:
                            finished(p, run_point(self.raws[p.index], self._where(p), str(self.point_dir(p))))
                        except (ConfigError, SimulationError) as exc:
                            failures.append((p, exc))
                else:
                    self._run_dask(todo, workers, scheduler, finished, failures)
        finally:
            if bar is not None:
                bar.close()
        if failures:
            p, exc = failures[0]
            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            cls = ConfigError if isinstance(exc, ConfigError) else SimulationError
            raise cls(f"sweep point {p.index} ({self._label(p)}) failed: {exc}{more}; fix it and rerun the same "
                      f"command to resume (finished points are kept in {self.out})")
        ordered = [rows[p.index] for p in self.points]
        _atomic_write(self.out / "sweep.csv", csv_text(self.keys, self.points, self.resolved, ordered))
        if self.scn.output.plots:
            from .plotcmd import plot_sweep

            plot_sweep(self.out)
        return self.out

    def _label(self, p: Point) -> str:
        return ", ".join([f"{k}={v!r}" for k, v in p.values.items()] + [f"seed={p.seed}"])

    def _where(self, p: Point) -> str:
        return f"{self.source} [sweep point {p.index}: {self._label(p)}]"

    def _run_dask(self, todo: list[Point], workers: int | None, scheduler: str | None,
                  finished: Callable[[Point, dict[str, Any]], None], failures: list) -> None:
        import logging

        from distributed import Client, LocalCluster, as_completed

        cluster = None
        try:
            if scheduler:
                try:
                    client = Client(scheduler, timeout="20s")
                except (OSError, TimeoutError, ValueError) as exc:
                    raise ConfigError(f"sweep --scheduler {scheduler}: cannot reach a Dask scheduler there ({exc}); "
                                      "check the address (tcp://HOST:PORT) and that the scheduler runs") from None
            else:
                n = workers if workers else min(os.cpu_count() or 1, len(todo))
                cluster = LocalCluster(n_workers=max(1, n), threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=logging.ERROR)
                client = Client(cluster)
            tag = uuid.uuid4().hex[:8]
            futures = {}
            for p in todo:
                f = client.submit(run_point, self.raws[p.index], self._where(p), str(self.point_dir(p).resolve()),
                                  key=f"mssim-{self.scn.name}-{p.name}-{tag}", pure=False)
                futures[f.key] = (f, p)
            for fut in as_completed([f for f, _ in futures.values()]):
                _, p = futures[fut.key]
                if fut.status == "error":
                    exc = fut.exception()
                    if isinstance(exc, (ConfigError, SimulationError)):
                        failures.append((p, exc))
                        continue
                    raise SimulationError(f"sweep point {p.index} ({self._label(p)}) failed on a worker: "
                                          f"{type(exc).__name__}: {exc}")
                finished(p, fut.result())
            client.close()
        finally:
            if cluster is not None:
                cluster.close()


def load_sweep(path: str | Path, overrides: Sequence[str] = (), out: str | Path | None = None) -> Sweep:
    """Load a scenario file and expand its sweep (every point validated)."""
    scn, raw = load(path, list(overrides))
    if out is None:
        out = Path(scn.output.dir) if scn.output.dir else Path("results") / f"{scn.name}-sweep"
    return Sweep(scn, raw, str(path), out)


def run_sweep(path: str | Path, *, overrides: Sequence[str] = (), out: str | Path | None = None, workers: int | None = None,
              scheduler: str | None = None, progress: bool = False) -> Path:
    """Python API of ``mssim sweep``: load, expand, run (resuming), write sweep.csv.  Returns the folder."""
    return load_sweep(path, overrides, out).run(workers=workers, scheduler=scheduler, progress=progress)


# ---------------------------------------------------------------------- CLI
def _cmd(args) -> int:
    sw = load_sweep(args.scenario, args.set or [], args.out)
    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"sweep --workers: must be 0 (in this process) or a positive number (got {args.workers})")
    sw.check_folder()
    n_done = sum(sw.done()) if sw.out.exists() else 0
    keys = ", ".join(sw.keys) or "(seeds only)"
    if args.dry_run:
        print(f"{args.scenario}: {len(sw.points)} points over {keys}")
        for p, res in zip(sw.points, sw.resolved):
            print(f"  {p.name}: " + ", ".join([f"{k}={res[k]!r}" for k in sw.keys] + [f"seed={p.seed}"]))
        return 0
    progress = (not args.no_progress) and sys.stderr.isatty()
    sw.build_all()
    if n_done:
        print(f"resuming: {n_done} of {len(sw.points)} points already done in {sw.out}", file=sys.stderr)
    out = sw.run(workers=args.workers, scheduler=args.scheduler, progress=progress)
    print(f"{sw.scn.name}: {len(sw.points)} points over {keys}; table: {out / 'sweep.csv'}")
    return 0


def register(subparsers) -> None:
    """Add ``mssim sweep``."""
    p = subparsers.add_parser("sweep", help="run a scenario's [sweep] on Dask and write sweep.csv",
                              description="Expand a scenario's [sweep] (grid, zip or random over dotted keys, times "
                              "seeds), run every point on a Dask cluster (local by default) into DIR/pNNNN, and write "
                              "DIR/sweep.csv plus plots.  Rerunning into the same DIR resumes.")
    p.add_argument("scenario", help="scenario file with a [sweep] section")
    p.add_argument("--out", help="sweep folder (default: output.dir, else results/<name>-sweep)")
    p.add_argument("--workers", type=int, help="local Dask worker processes (default: one per core; 0 = no Dask, "
                   "run in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="use an existing Dask cluster, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a dotted key of the base scenario (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="list the points and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd)
