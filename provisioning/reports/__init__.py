"""Reports on the orders, read-only: the managers' backlog and the analysts' tables, counting
with one set of definitions.

- `definitions`: what an open, delegated, deferred, stale, past-SLA and at-risk order is
  (SQL conditions both reports query with);
- `backlog`: the Backlog page's figures, aggregated in SQL;
- `analysis`: the notebooks' pandas tables (the world, the finder's view, the backlog per
  partner).

Nothing is imported here: `from provisioning.reports import backlog` (the dashboard) does not
load pandas, which only `analysis` needs.
"""

__all__ = ["analysis", "backlog", "definitions"]
