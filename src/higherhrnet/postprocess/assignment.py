"""Minimum-cost assignment for ``match_by_tag``, with the reference's tie-breaking.

The grouping cost ``round(dist) * 100 - val`` has many equally good assignments: with no
more candidates than people, ``sum(val)`` is the same for every full assignment, so only
the integer rounded distances count.  Which optimum is chosen decides whether a joint
joins a person (``dist < 1``) or starts a new one, and solvers break these ties
differently: on random tag clusters ``scipy.optimize.linear_sum_assignment`` and the
reference's ``munkres`` 1.1.4 disagree in most cases (the two agree on the crafted and the
330-person synthetic outputs).  :func:`munkres_assignment` is a vectorised implementation
of the Munkres steps that the reference's solver follows (row reduction; starring zeros in
row-major order; priming with the cyclic zero search that keeps the *last* uncovered zero
of the first row holding one; augmenting paths; the same float64 updates), so it makes the
reference's choice.  :func:`scipy_assignment` is the fast alternative.

Both refuse a cost holding NaN or inf (``ValueError``): no zero ever appears among NaNs, so
the Munkres steps would loop forever (extreme but finite network outputs overflow to inf in
the tag means).  The Munkres loop also has a step bound (``RuntimeError``), so that no input
can make it run for a cluster job's whole wall time.
"""

from __future__ import annotations

import numpy as np


def check_finite_cost(cost: np.ndarray) -> np.ndarray:
    cost = np.asarray(cost, dtype=np.float64)
    bad = int(cost.size - np.count_nonzero(np.isfinite(cost)))
    if bad:
        raise ValueError(f"{bad} NaN or inf value(s) in the {cost.shape[0]}x{cost.shape[1]} "
                         "assignment cost: tag distances are not finite (extreme network "
                         "outputs?)")
    return cost


def scipy_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cost = check_finite_cost(cost)
    # imported here: scipy.optimize costs ~0.3 s at start-up and the default is munkres
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(cost)


def _find_zero(c, row_cov, col_cov, i0: int, j0: int) -> tuple[int, int]:
    """The first row (cyclic from ``i0``) holding an uncovered zero, and in it the last
    uncovered zero of the cyclic scan from ``j0``; ``(-1, -1)`` if there is none."""
    n = c.shape[0]
    mask = (c == 0) & ~row_cov[:, None] & ~col_cov[None, :]
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return -1, -1
    i = int(rows[np.argmin((rows - i0) % n)])
    js = np.flatnonzero(mask[i])
    return i, int(js[np.argmax((js - j0) % n)])


def munkres_assignment(cost: np.ndarray,
                       max_steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the assigned pairs, in row order, as munkres 1.1.4 returns them
    (a non-square matrix is padded with zeros to a square one first).

    ``max_steps`` bounds the passes of steps 4/6 (default ``4 n^2 + 16``: each of the at
    most ``n`` augmentations takes at most ``n`` primes and ``n`` step-6 updates)."""
    cost = check_finite_cost(cost)
    n_rows, n_cols = cost.shape
    n = max(n_rows, n_cols)
    limit = 4 * n * n + 16 if max_steps is None else max_steps
    steps = 0
    c = np.zeros((n, n), dtype=np.float64)
    c[:n_rows, :n_cols] = cost
    c -= c.min(axis=1, keepdims=True)  # step 1
    star = np.zeros((n, n), dtype=bool)
    prime = np.zeros((n, n), dtype=bool)
    row_cov = np.zeros(n, dtype=bool)
    col_cov = np.zeros(n, dtype=bool)
    for i in range(n):  # step 2: star the first free zero of each row
        js = np.flatnonzero((c[i] == 0) & ~col_cov)
        if js.size:
            star[i, js[0]] = True
            col_cov[js[0]] = True
    col_cov[:] = False
    while True:
        col_cov = star.any(axis=0)  # step 3
        if col_cov.sum() >= n:
            break
        row, col = 0, 0
        while True:  # step 4
            steps += 1
            if steps > limit:
                raise RuntimeError(f"munkres assignment of a {n_rows}x{n_cols} cost did not "
                                   f"finish within {limit} steps")
            row, col = _find_zero(c, row_cov, col_cov, row, col)
            if row < 0:  # step 6
                free = c[~row_cov][:, ~col_cov]
                m = free.min() if free.size else float(np.iinfo(np.int64).max)
                c[row_cov] += m
                c[:, ~col_cov] -= m
                row, col = 0, 0
                continue
            prime[row, col] = True
            stars = np.flatnonzero(star[row])
            if stars.size == 0:
                break
            col = int(stars[0])
            row_cov[row] = True
            col_cov[col] = False
        path = [(row, col)]  # step 5: alternate starred zeros (column) and primes (row)
        while True:
            r = np.flatnonzero(star[:, path[-1][1]])
            if r.size == 0:
                break
            path.append((int(r[0]), path[-1][1]))
            path.append((path[-1][0], int(np.flatnonzero(prime[path[-1][0]])[0])))
        for r, cc in path:
            star[r, cc] = not star[r, cc]
        row_cov[:] = False
        col_cov[:] = False
        prime[:] = False
    rows, cols = np.nonzero(star[:n_rows, :n_cols])
    return rows, cols


ASSIGNMENTS = {"munkres": munkres_assignment, "scipy": scipy_assignment}
