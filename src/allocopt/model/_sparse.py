"""PuLP rows from compressed sparse arrays: one expression per row, built from the row's slice of the arrays."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pulp
import scipy.sparse as sp


def add_rows(
    model: pulp.LpProblem,
    columns: Sequence[pulp.LpVariable],
    matrix: sp.csr_matrix,
    *,
    sense: int,
    rhs: np.ndarray | float,
    prefix: str,
) -> None:
    """Add the rows `matrix @ columns <sense> rhs`, named `prefix_r` for row r.

    The terms of each row come straight from the CSR slice (column positions and coefficients), so building
    costs one expression per row and no per-pair Python arithmetic.
    """
    csr = sp.csr_matrix(matrix)
    variables = np.empty(len(columns), dtype=object)
    variables[:] = list(columns)
    bounds = np.broadcast_to(np.asarray(rhs, dtype=np.float64), (csr.shape[0],)).tolist()
    indptr = csr.indptr.tolist()
    terms = variables[csr.indices].tolist()
    values = csr.data.astype(np.float64).tolist()
    for r, (start, stop) in enumerate(pairwise(indptr)):
        expression = pulp.LpAffineExpression(zip(terms[start:stop], values[start:stop], strict=True))
        model.addConstraint(pulp.LpConstraint(expression, sense, f"{prefix}_{r}", bounds[r]))
