"""The compiled-kernel cache follows the sources: a folder per digest of every source file, so a
kernel is never loaded compiled against another version of a function it calls."""

import os
import subprocess
import sys


def _cache_dir(env_extra):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", "import components; from numba.core import config; "
                          "print(config.CACHE_DIR)"], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_cache_folder_is_named_after_the_sources_and_old_ones_are_pruned(tmp_path):
    import hashlib

    import components

    where = hashlib.sha256(os.path.dirname(os.path.abspath(components.__file__)).encode()).hexdigest()[:8]
    base = tmp_path / "mssim" / "numba"
    for i in range(5):  # folders of older sources of this checkout, and of another checkout
        for w in (where, "otherckt"):
            (base / f"{w}-old{i}").mkdir(parents=True, exist_ok=True)
            os.utime(base / f"{w}-old{i}", (i, i))
    d = _cache_dir({"XDG_CACHE_HOME": str(tmp_path)})
    name = os.path.basename(d)
    assert os.path.dirname(d) == str(base) and name.startswith(where + "-") and len(name) == 8 + 1 + 16
    kept = sorted(p.name for p in base.iterdir())
    assert kept == sorted([f"{where}-old3", f"{where}-old4", name] + [f"otherckt-old{i}" for i in range(5)])
    assert _cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == d  # same sources, same folder


def test_a_cache_dir_the_user_sets_is_kept(tmp_path):
    assert _cache_dir({"NUMBA_CACHE_DIR": str(tmp_path / "mine")}) == str(tmp_path / "mine")
