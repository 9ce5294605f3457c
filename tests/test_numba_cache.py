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
    base = tmp_path / "mssim" / "numba"
    for i in range(5):  # folders of older sources
        (base / f"old{i}").mkdir(parents=True)
        os.utime(base / f"old{i}", (i, i))
    d = _cache_dir({"XDG_CACHE_HOME": str(tmp_path)})
    assert os.path.dirname(d) == str(base) and len(os.path.basename(d)) == 16
    assert sorted(p.name for p in base.iterdir()) == sorted(["old3", "old4", os.path.basename(d)])
    assert _cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == d  # same sources, same folder


def test_a_cache_dir_the_user_sets_is_kept(tmp_path):
    assert _cache_dir({"NUMBA_CACHE_DIR": str(tmp_path / "mine")}) == str(tmp_path / "mine")
