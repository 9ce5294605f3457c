"""Crossbar line resistance: exact nodal solve of the resistive network (scipy sparse LU).

Geometry (docs/synapses.md, "Line resistance").  Row i has a + line (and a − line
for units that use one) driven at its left end, column 0 side, through one
segment ``r_line``; consecutive units along a row are one segment apart.  Column
j's summing wire runs from row 0 to row n_in − 1 and then one more segment to the
neuron's summing node (virtual ground, 0 V), so the last row is nearest the
neuron.  Device conductances are frozen while a network is solved; the caller
re-solves when the states change (reads and writes sub-step for that).

The read network has one node per line crossing (+, −, column, and the pair's
middle node); the write network has only the + and − row nodes, with each
selected unit's write path (column isolated) between them.  Both are solved
exactly, not by relaxation sweeps; the cost is one sparse LU factorisation per
state change, practical up to a few 10^5 nodes.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from . import topologies as T


class _Builder:
    def __init__(self):
        self.a, self.b, self.g = [], [], []

    def edge(self, a, b, g):
        self.a.append(np.asarray(a).ravel())
        self.b.append(np.asarray(b).ravel())
        self.g.append(np.broadcast_to(np.asarray(g, float), np.asarray(a).shape).ravel())

    def ground(self, a, g):  # edge to a node held at a known voltage (contributes to the diagonal)
        a = np.asarray(a).ravel()
        self.a.append(a)
        self.b.append(np.full(a.shape, -1))
        self.g.append(np.broadcast_to(np.asarray(g, float), a.shape).ravel())

    def matrix(self, n):
        a = np.concatenate(self.a)
        b = np.concatenate(self.b)
        g = np.concatenate(self.g)
        inner = b >= 0
        ai, bi, gi = a[inner], b[inner], g[inner]
        rows = np.concatenate((ai, bi, ai, bi, a[~inner]))
        cols = np.concatenate((ai, bi, bi, ai, a[~inner]))
        vals = np.concatenate((gi, gi, -gi, -gi, g[~inner]))
        return sp.csc_matrix((vals, (rows, cols)), shape=(n, n))


class LineNetwork:
    """Read and write networks of an ``n_in × n_out`` crossbar with wire resistance ``r_line``."""

    def __init__(self, unit: str, n_in: int, n_out: int, r_line: float, r_in: float, g_ref: float):
        self.unit, self.n_in, self.n_out = unit, n_in, n_out
        self.gl = 1.0 / r_line
        self.r_in, self.g_ref = r_in, g_ref
        topo = T.TOPOLOGIES[unit]
        U = n_in * n_out
        grid = np.arange(U).reshape(n_in, n_out)
        off = 0
        self.P = grid + off
        off += U
        self.N = None
        if topo.uses_minus_line:
            self.N = grid + off
            off += U
        self.C = grid + off
        off += U
        self.M = None
        if unit == "pair":
            self.M = grid + off
            off += U
        self.n_nodes = off
        gl = self.gl
        # static part of the read network: wire segments, drivers, the summing node
        st = _Builder()
        for L in (self.P, self.N):
            if L is None:
                continue
            st.edge(L[:, :-1], L[:, 1:], gl)
            st.ground(L[:, 0], gl)
        st.edge(self.C[:-1, :], self.C[1:, :], gl)
        st.ground(self.C[-1, :], gl)
        self._static = st
        # drive matrix: RHS = B @ v
        rows = [self.P[:, 0]]
        vals = [np.full(n_in, gl)]
        cols = [np.arange(n_in)]
        if self.N is not None:
            rows.append(self.N[:, 0])
            vals.append(np.full(n_in, -gl))
            cols.append(np.arange(n_in))
        self.B = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(self.n_nodes, n_in))
        self._lu = None
        self._G = None

    # -------------------------------------------------------------------- read
    def factor(self, g: np.ndarray) -> None:
        """Assemble and factorise the read network for device conductances ``g`` (k, n_in, n_out)."""
        b = _Builder()
        b.a, b.b, b.g = list(self._static.a), list(self._static.b), list(self._static.g)
        if self.unit == "pair":
            b.edge(self.P, self.M, g[0])
            b.edge(self.N, self.M, g[1])
            b.edge(self.M, self.C, 1.0 / self.r_in)
        elif self.unit == "differential":
            b.edge(self.P, self.C, g[0])
            b.edge(self.N, self.C, g[1])
        else:  # reference
            b.edge(self.P, self.C, g[0])
        self._lu = spla.splu(b.matrix(self.n_nodes))
        self._G = None

    def solve(self, v: np.ndarray) -> np.ndarray:
        """Node voltages for row inputs ``v`` (needs :meth:`factor`)."""
        return self._lu.solve(self.B @ np.asarray(v, float))

    def output(self, V: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Current into each summing node (A) from node voltages ``V``."""
        out = self.gl * V[self.C[-1, :]]
        if self.unit == "reference":
            out = out - self.g_ref * np.sum(v)  # ideal reference column (no wire resistance)
        return out

    def gain(self) -> np.ndarray:
        """Exact transfer matrix (n_in, n_out) via n_out adjoint solves (the matrix is symmetric)."""
        if self._G is None:
            G = np.empty((self.n_in, self.n_out))
            Bt = self.B.T.tocsr()
            for j0 in range(0, self.n_out, 32):
                j1 = min(self.n_out, j0 + 32)
                E = np.zeros((self.n_nodes, j1 - j0))
                E[self.C[-1, j0:j1], np.arange(j1 - j0)] = 1.0
                Z = self._lu.solve(E)
                G[:, j0:j1] = self.gl * (Bt @ Z)
            if self.unit == "reference":
                G -= self.g_ref
            self._G = G
        return self._G

    def device_voltages(self, V: np.ndarray) -> np.ndarray:
        """Voltage across every device (k, n_in, n_out) from node voltages ``V``."""
        if self.unit == "pair":
            return np.stack((V[self.P] - V[self.M], V[self.N] - V[self.M]))
        if self.unit == "differential":
            return np.stack((V[self.P] - V[self.C], V[self.N] - V[self.C]))
        return (V[self.P] - V[self.C])[None]

    def driver_power(self, V: np.ndarray, v: np.ndarray) -> float:
        """Power (W) delivered by the row drivers (= dissipated in the whole network), plus the
        ideal reference column."""
        gl = self.gl
        p = float(np.sum(v * gl * (v - V[self.P[:, 0]])))
        if self.N is not None:
            p += float(np.sum(-v * gl * (-v - V[self.N[:, 0]])))
        if self.unit == "reference":
            p += float(np.sum(v * v) * self.g_ref)
        return p

    # -------------------------------------------------------------------- write
    def write_ratio(self, g_write: np.ndarray, selected: np.ndarray) -> tuple[np.ndarray, float]:
        """Fraction of the write pulse that reaches each unit's write path (n_in, n_out), and the
        total conductance the write drivers see (S; driver power = V²·that).

        ``g_write`` is each unit's write-path conductance, ``selected`` the boolean mask of
        units whose polarity switch is closed.  The + lines are driven at 1, the − lines at 0.
        """
        n_in, n_out = self.n_in, self.n_out
        U = n_in * n_out
        grid = np.arange(U).reshape(n_in, n_out)
        Pn, Nn = grid, grid + U
        b = _Builder()
        gl = self.gl
        for L in (Pn, Nn):
            b.edge(L[:, :-1], L[:, 1:], gl)
            b.ground(L[:, 0], gl)
        gw = np.where(selected, g_write, 0.0)
        b.edge(Pn, Nn, gw)
        A = b.matrix(2 * U)
        rhs = np.zeros(2 * U)
        rhs[Pn[:, 0]] = gl
        V = spla.splu(A).solve(rhs)
        y_total = float(np.sum(gl * (1.0 - V[Pn[:, 0]])))
        return V[Pn] - V[Nn], y_total
