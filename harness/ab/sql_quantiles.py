"""Lower quantiles in SQL by walking the values in order (``ORDER BY x LIMIT 1 OFFSET k``).

One helper for every SQL event source (the event store, gateway requests): it takes the value
expression and the ``FROM ... WHERE ...`` clause with its parameters, and reads one row per quantile
from the nearer end, so with an index on the value a p95 visits 5% of the entries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from harness.ab.sums import order_statistic_index


def lower_quantiles(conn: Any, expr: str, from_where: str, params: Mapping[str, Any], probs: Sequence[float],
                    n: int | None = None) -> list[float]:
    """Return the lower ``p``-quantile of ``expr`` over the rows of ``from_where`` for each ``p`` in ``probs``.

    ``from_where`` is a ``FROM ... WHERE ...`` clause whose rows all have a value (exclude NULLs in it),
    ``params`` its bind parameters, ``n`` its row count when the caller knows it (else counted here).
    The quantile is the ``ceil(p n)``-th smallest value (:func:`harness.ab.sums.order_statistic_index`);
    NaN when there are no rows.
    """
    from sqlalchemy import text

    if n is None:
        n = int(conn.execute(text(f"SELECT COUNT(*) {from_where}"), dict(params)).scalar_one())
    values = []
    for p in probs:
        if n == 0:
            values.append(math.nan)
            continue
        k = order_statistic_index(p, n)
        order, offset = ("ASC", k) if k < n / 2 else ("DESC", n - 1 - k)
        values.append(float(conn.execute(text(f"SELECT {expr} {from_where} ORDER BY {expr} {order} LIMIT 1 OFFSET :k"),
                                         {**params, "k": offset}).scalar_one()))
    return values
