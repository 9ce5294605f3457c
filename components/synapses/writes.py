"""One write pulse through a crossbar's devices, in one compiled call.

:meth:`components.synapses.CrossbarLayer.write_pieces` (ideal lines) runs here: the units a pulse
selects (polarity ±1), every piece ``(v0, v1, seconds)`` of the pulse in order, every device pair
and single device the unit's topology drives, the device kernels of
:mod:`components.devices.kernels` (the one device law), and each call's cycle-to-cycle noise.

Cycle-to-cycle noise is applied after every device call exactly as
:meth:`components.devices.DeviceArray._c2c` does (``u + dU·dx_c2c·N``, clipped to [0, 1], stuck
devices kept), with the normal draws taken in advance from the array's run stream in the same
order (pairs: the positive devices then the negative ones, per call), so the bits are those of
one draw per call.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..devices import kernels as K
from .topologies import _state_terms


@njit(cache=True)
def _drives(pieces, r):
    """Piece r drives the devices: it lasts and is not 0 V throughout."""
    return pieces[r, 2] > 0.0 and not (pieces[r, 0] == 0.0 and pieces[r, 1] == 0.0)


@njit(cache=True)
def write_calls(pieces, pol):
    """Number of device calls per topology slot group a pulse makes: (selected units, pieces that
    drive).  A piece drives when it lasts and is not 0 V throughout."""
    m = 0
    for u in range(pol.size):
        if pol[u] != 0.0:
            m += 1
    k = 0
    for r in range(pieces.shape[0]):
        if _drives(pieces, r):
            k += 1
    return m, k


@njit(cache=True)
def snap_polarity(p):
    """Polarity codes +1 / -1 / 0 of a write request (> 0.5, < -0.5, else 0), as a new array."""
    out = np.empty(p.size)
    for i in range(p.size):
        x = p.flat[i]
        out[i] = 1.0 if x > 0.5 else (-1.0 if x < -0.5 else 0.0)
    return out


@njit(cache=True)
def _c2c(U, dU, flags, idx, dx_dn, dx_up, draws, d0):
    for j in range(idx.size):
        K.c2c_kick(U, dU, flags, idx[j], dx_dn, dx_up, draws[d0 + j])


@njit(cache=True)
def write_pieces_kernel(pieces, pol, n_units, pair_pos, pair_neg, single, model, P, U, dU, flags, count, limit,
                        stuck_u, switch_dx, rtol, atol, cap, fast, paths, dx_dn, dx_up, draws, grounded, one_pass,
                        uniform):
    """Apply the pulse ``pieces`` (rows ``v0, v1, seconds``) to the units with polarity
    ``pol[u]`` = ±1 (0 = not written) of one crossbar: per piece, each pair of slots
    (``pair_pos[p]``, ``pair_neg[p]``) through :func:`~components.devices.kernels.apply_pairs`,
    then each lone slot ``single[s]`` through :func:`~components.devices.kernels.apply_single`,
    the device at slot ``s`` of unit ``u`` being ``s·n_units + u``.  ``draws`` holds the
    cycle-to-cycle normals, used when a spread is positive: ``dx_dn`` for state changes with
    du < 0, ``dx_up`` for the others (:meth:`components.devices.DeviceParams.c2c_spreads`).
    ``grounded`` (``synapse.params.write_mid = "ground"``): a pair's middle node is held at 0 V,
    so its positive device takes half the pulse and then its negative device minus half, each
    a single-device call.  ``one_pass`` (one series pair per unit, no lone device): each pair goes
    through all the pieces in one pass
    (:func:`~components.devices.kernels.apply_pair_pieces_ser`; the same bits, ``uniform`` as
    :class:`~components.devices.DeviceArray` says).  Returns ``(energy in J, device calls
    made)``.  (Serial device kernels only: a cached function that calls numba's parallel
    kernels crashes when loaded from the cache, so large pulses loop over the same calls in
    Python, :meth:`~components.synapses.CrossbarLayer.write_pieces`.)"""
    m = 0
    for u in range(pol.size):
        if pol[u] != 0.0:
            m += 1
    sel = np.empty(m, dtype=np.int64)
    sign = np.empty(m)
    q = 0
    for u in range(pol.size):
        if pol[u] != 0.0:
            sel[q] = u
            sign[q] = pol[u]
            q += 1
    c2c = dx_dn > 0.0 or dx_up > 0.0
    if one_pass:  # one series pair per unit: each pair through all the pieces in one pass
        k = write_calls(pieces, pol)[1]
        v0 = np.empty(k)
        v1 = np.empty(k)
        Tq = np.empty(k)
        q = 0
        for r in range(pieces.shape[0]):
            if _drives(pieces, r):
                v0[q] = pieces[r, 0]
                v1[q] = pieces[r, 1]
                Tq[q] = pieces[r, 2]
                q += 1
        if k == 0:
            return 0.0, 0
        ip0 = np.empty(m, dtype=np.int64)
        in0 = np.empty(m, dtype=np.int64)
        for j in range(m):
            ip0[j] = pair_pos[0] * n_units + sel[j]
            in0[j] = pair_neg[0] * n_units + sel[j]
        energy = np.empty(m)
        noise = draws.reshape((k, 2 * m)) if c2c else np.zeros((1, 1))
        K.apply_pair_pieces_ser(model, P, U, dU, flags, count, limit, stuck_u, switch_dx, ip0, in0, sign, v0, v1, Tq,
                                rtol, atol, cap, fast, uniform, dx_dn, dx_up, noise, energy, paths)
        return energy.sum(), k
    n_p = pair_pos.size
    n_s = single.size
    ip = np.empty((n_p, m), dtype=np.int64)
    ineg = np.empty((n_p, m), dtype=np.int64)
    both = np.empty((n_p, 2 * m), dtype=np.int64)
    for p in range(n_p):
        for j in range(m):
            ip[p, j] = pair_pos[p] * n_units + sel[j]
            ineg[p, j] = pair_neg[p] * n_units + sel[j]
            both[p, j] = ip[p, j]
            both[p, m + j] = ineg[p, j]
    isg = np.empty((n_s, m), dtype=np.int64)
    for s in range(n_s):
        for j in range(m):
            isg[s, j] = single[s] * n_units + sel[j]
    sa = np.empty(m)
    sb = np.empty(m)
    ha = np.empty(m)
    hb = np.empty(m)
    na = np.empty(m)
    nb = np.empty(m)
    energy = np.empty(m)
    e = 0.0
    calls = 0
    d = 0
    for r in range(pieces.shape[0]):
        if not _drives(pieces, r):
            continue
        wa = pieces[r, 0]
        wb = pieces[r, 1]
        T = pieces[r, 2]
        for j in range(m):
            sa[j] = sign[j] * wa
            sb[j] = sign[j] * wb
        if grounded:
            for j in range(m):
                ha[j] = 0.5 * sa[j]
                hb[j] = 0.5 * sb[j]
                na[j] = -0.5 * sa[j]
                nb[j] = -0.5 * sb[j]
        for p in range(n_p):
            if grounded:  # middle node at 0 V: each device alone with half the pulse
                for half in range(2):
                    idx = ip[p] if half == 0 else ineg[p]
                    K.apply_single(model, P, U, dU, flags, count, limit, stuck_u, switch_dx, idx,
                                   ha if half == 0 else na, hb if half == 0 else nb, T, 0, rtol, atol, cap, fast,
                                   energy, paths)
                    e += energy.sum()
                    calls += 1
                    if c2c:
                        _c2c(U, dU, flags, idx, dx_dn, dx_up, draws, d)
                        d += m
                continue
            K.apply_pairs(model, P, U, dU, flags, count, limit, stuck_u, switch_dx, ip[p], ineg[p], sa, sb, T, rtol,
                          atol, cap, fast, energy, paths)
            e += energy.sum()
            calls += 1
            if c2c:
                _c2c(U, dU, flags, both[p], dx_dn, dx_up, draws, d)
                d += 2 * m
        for s in range(n_s):
            K.apply_single(model, P, U, dU, flags, count, limit, stuck_u, switch_dx, isg[s], sa, sb, T, 0, rtol,
                           atol, cap, fast, energy, paths)
            e += energy.sum()
            calls += 1
            if c2c:
                _c2c(U, dU, flags, isg[s], dx_dn, dx_up, draws, d)
                d += m
    return e, calls


@njit(cache=True)
def write_then_state(pieces, pol, n_units, pair_pos, pair_neg, single, model, P, U, dU, flags, count, limit, stuck_u,
                     switch_dx, rtol, atol, cap, fast, paths, dx_dn, dx_up, draws, grounded, one_pass, uniform, v_read,
                     code, r_in, g_ref, buffered, by_current, g, G, usrc, dvc, Q, amax, amin, gsrc):
    """:func:`write_pieces_kernel`, then the crossbar's new read state
    (:func:`components.synapses.topologies._state_terms` into ``g`` .. ``gsrc``), in one call:
    what a chip's write pulse does to a crossbar (ideal lines).  Returns ``(energy, calls)``, or
    ``(0, -1)`` having done nothing when no unit is selected."""
    if write_calls(pieces, pol)[0] == 0:
        return 0.0, -1
    e, calls = write_pieces_kernel(pieces, pol, n_units, pair_pos, pair_neg, single, model, P, U, dU, flags, count,
                                   limit, stuck_u, switch_dx, rtol, atol, cap, fast, paths, dx_dn, dx_up, draws,
                                   grounded, one_pass, uniform)
    _state_terms(model, P, U, flags, v_read, code, r_in, g_ref, buffered, by_current, g, G, usrc, dvc, Q, amax, amin,
                 gsrc)
    return e, calls
