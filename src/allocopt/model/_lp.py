"""PuLP building blocks shared by the allocation model and the classic models: variables and rows named after
the IDs they are keyed by (`NamedRows`), and rows loaded from compressed sparse arrays (`add_rows`).

This module knows no model: the allocation MILP (`allocation.AllocationModel`), the tier LP of a fixed plan
(`referral.evaluate_tiers`) and the cost-matrix models build on it, so none of them borrows another's helpers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import pulp
import scipy.sparse as sp

_ILLEGAL = str.maketrans({c: "_" for c in "-+[] ->/"})
"""Characters PuLP rewrites to "_" in names; names are written as PuLP will keep them."""

Terms = list[tuple[pulp.LpVariable, float]]
"""A linear row as (variable, coefficient) pairs."""


def unique_name(names: set[str], family: str, *keys: str) -> str:
    """`family[key,...]` as PuLP will write it, made unique among `names` (and added to them)."""
    base = f"{family}[{','.join(keys)}]".translate(_ILLEGAL)
    candidate, n = base, 1
    while candidate in names:
        n += 1
        candidate = f"{base}_{n}"
    names.add(candidate)
    return candidate


class NamedRows:
    """Variables and rows named `family[key,...]` after the IDs they are keyed by, unique within one model.

    A mixin: the class using it holds the PuLP model in `lp` and the names given so far in `names`.
    """

    lp: pulp.LpProblem
    names: set[str]

    def name(self, family: str, *keys: str) -> str:
        """`family[key,...]` as PuLP will write it, made unique within the model."""
        return unique_name(self.names, family, *keys)

    def var(self, family: str, keys: tuple[str, ...], *, upper: float | None, integer: bool = False
            ) -> pulp.LpVariable:
        """A new non-negative variable `family[keys]` with an optional upper bound."""
        category = pulp.LpInteger if integer else pulp.LpContinuous
        return self.lp.add_variable(self.name(family, *keys), lowBound=0, upBound=upper, cat=category)

    def constrain(self, family: str, keys: tuple[str, ...], terms: Terms, sense: int, rhs: float) -> None:
        """Add `sum(coef * var) <sense> rhs` named `family[keys]` (terms of one variable add up)."""
        expression = pulp.LpAffineExpression()
        for var, coefficient in terms:
            expression.addterm(var, coefficient)
        self.lp.addConstraint(pulp.LpConstraint(expression, sense, self.name(family, *keys), rhs))


@dataclass(eq=False)
class NamedLp(NamedRows):
    """A PuLP model on its own with named variables and rows (an LP that belongs to no larger model)."""

    lp: pulp.LpProblem
    names: set[str] = field(default_factory=set)


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
