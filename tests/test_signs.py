"""Perturbation signs: the batched stream gives the reference convention's numbers."""

import numpy as np
import pytest

from components.training.signs import LFSRSigns, StreamSigns


@pytest.mark.parametrize("n", [1, 7, 67, 300, 5000])
def test_stream_signs_in_batches_equal_one_draw_per_pattern(n):
    """``integers(0, 2, (B, n))`` row by row == B calls of ``integers(0, 2, n)`` (the convention of
    components.learning.reference), across several batch boundaries, and the stream continues alike."""
    sg = StreamSigns(np.random.default_rng(11), n)
    ref = np.random.default_rng(11)
    n_draws = 2 * sg._rows + 3
    for k in range(n_draws):
        want = (ref.integers(0, 2, size=n) * 2 - 1).astype(np.float64)
        got = sg.draw()
        assert got.dtype == np.float64 and got.shape == (n,)
        np.testing.assert_array_equal(got, want, err_msg=f"pattern {k}")
    # the stream is where B·n single draws would leave it once the batch is used up
    for _ in range(sg._buf.shape[0] - sg._next):
        ref.integers(0, 2, size=n)
    assert sg.rng.random() == ref.random()


def test_a_drawn_row_stays_valid_after_the_next_batch():
    sg = StreamSigns(np.random.default_rng(3), 4)
    first = sg.draw().copy()
    kept = sg.draw()
    kept_copy = kept.copy()
    for _ in range(3 * sg._rows):
        sg.draw()
    np.testing.assert_array_equal(kept, kept_copy)
    assert not np.array_equal(first, np.zeros(4))


def test_lfsr_signs_are_pm_one():
    s = LFSRSigns(np.random.default_rng(0), 33).draw()
    assert set(np.unique(s)) <= {-1.0, 1.0}
