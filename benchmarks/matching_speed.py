"""Ranking speed in a large database: per order (warm, in process) and `match --all`.

The database is a demo world of 1M orgs with about 5M members, built once per backend
and kept in the scratch directory (SQLite file) or a named schema (PostgreSQL), since
building it takes minutes. Targets: p50 <= 5 ms, p99 <= 25 ms per order; `match --all`
>= 2,000 orders/s; memory bounded (peak RSS is reported).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.harness import POSTGRES_URL, SCRATCH, in_child, print_table
from provisioning.db import normalize_url

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SAMPLE = 2_000


def _sqlite_url(orgs: int) -> str:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{SCRATCH / f'finder-{orgs}.sqlite'}"


def _postgres_url(orgs: int) -> str:
    """A named schema that survives between runs (building it takes minutes)."""
    schema = f"bench_finder_{orgs}"
    base = normalize_url(POSTGRES_URL)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    return (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def _build(url: str, orgs: int) -> dict[str, Any]:
    from provisioning.db import Database
    from provisioning.demo.seed import create_demo, database_is_empty
    from provisioning.demo.world import WorldParams

    db = Database(url)
    db.ensure_schema()
    started = time.perf_counter()
    if database_is_empty(db):
        params = WorldParams(orgs=orgs, seed=77, now=NOW, members_per_org=5.0)
        create_demo(db, params, "bench@example.com")
    db.dispose()
    return {"build_s": time.perf_counter() - started}


def _measure(url: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    from matching.matcher import match_order
    from provisioning import finder
    from provisioning.db import Database
    from provisioning.finder.source import SqlCandidateSource
    from provisioning.models import Member, Order, Org
    from provisioning.states import OrderState

    db = Database(url)
    waiting = [s.value for s in OrderState if s.awaits_org]
    with db.read() as session:
        orgs = session.scalar(select(func.count()).select_from(Org))
        members = session.scalar(select(func.count()).select_from(Member))
        orders = session.scalars(
            select(Order).where(Order.state.in_(waiting)).order_by(Order.order_id).limit(SAMPLE)
        ).all()
        model = finder.active_model(session).model
        source = SqlCandidateSource(session)
        for order in orders[:50]:  # warm-up: caches, prepared statements
            match_order(finder.order_query(order), source, model, NOW)
        timings = []
        for order in orders:
            started = time.perf_counter()
            match_order(finder.order_query(order), source, model, NOW)
            timings.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    matched = sum(1 for _ in finder.match_all(db, NOW))
    all_seconds = time.perf_counter() - started
    db.dispose()
    timings.sort()
    return {
        "orgs": orgs,
        "members": members,
        "p50_ms": statistics.median(timings),
        "p99_ms": timings[int(len(timings) * 0.99) - 1],
        "all_orders": matched,
        "all_per_s": matched / all_seconds,
    }


def run(orgs: int, backends: list[str]) -> None:
    rows = []
    for backend in backends:
        url = _sqlite_url(orgs) if backend == "sqlite" else _postgres_url(orgs)
        built = in_child(_build, url=url, orgs=orgs)
        measured = in_child(_measure, url=url)
        rows.append(
            {
                "backend": backend,
                "orgs": measured["orgs"],
                "members": measured["members"],
                "rank p50 ms": measured["p50_ms"],
                "rank p99 ms": measured["p99_ms"],
                "match --all orders": measured["all_orders"],
                "match --all orders/s": measured["all_per_s"],
                "peak RSS MiB": measured["peak_rss_mib"],
                "build s": built["build_s"],
            }
        )
    print_table(
        "organization finder speed (targets: p50 <= 5 ms, p99 <= 25 ms, --all >= 2,000/s)",
        rows,
        floatfmt=",.2f",
    )
