"""mssim's components.

Compiled kernels are cached by numba per source file, and numba does not notice when a kernel's
callee in another file changes (a cached write kernel would keep calling the device law it was
compiled with).  So, unless you set ``NUMBA_CACHE_DIR`` yourself, the cache lives in a folder
named after where this package is and a digest of its source files that use numba: an edit to
any of them starts a fresh cache, and the folders of older sources of the same checkout are removed (the newest few
are kept; they are mssim's own).  Two checkouts keep separate caches.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

_KEEP = 3


def _cache_dir() -> Path | None:
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        src = p.read_bytes()
        if b"numba" in src:  # only files with compiled code (or calling it) shape the kernels
            h.update(str(p.relative_to(root)).encode())
            h.update(src)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mssim" / "numba"
    where = hashlib.sha256(str(root).encode()).hexdigest()[:8]
    here = base / f"{where}-{h.hexdigest()[:16]}"
    try:
        here.mkdir(parents=True, exist_ok=True)
        old = sorted((d for d in base.iterdir() if d.is_dir() and d != here and d.name.startswith(where + "-")),
                     key=lambda d: d.stat().st_mtime)
        for d in old[: max(0, len(old) - (_KEEP - 1))]:
            shutil.rmtree(d, ignore_errors=True)
        os.utime(here)
    except OSError:
        return None  # no writable cache home: numba's default (next to the sources)
    return here


if not os.environ.get("NUMBA_CACHE_DIR") and os.environ.get("NUMBA_DISABLE_JIT", "0") in ("", "0"):
    _dir = _cache_dir()
    if _dir is not None:
        from numba.core import config as _numba_config

        _numba_config.CACHE_DIR = str(_dir)
