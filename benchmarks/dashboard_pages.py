"""Server-side time to render each dashboard page on a large database (target: <= 1 s per
page, warm).

The database is a demo world with about 100k orders (built once and kept in the scratch
directory). Each page is rendered through `streamlit.testing` from the entry script, as a
person's first visit (cold: empty caches) and then again (warm: cached read models and
model), in a fresh child process so nothing from an earlier page helps a later one.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import SCRATCH, in_child, print_table

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
PAGES = ("queue", "order", "backlog", "audit", "matching")
RUNS = 3  # warm renders measured after the first


def _build(url: str, orgs: int, orders_per_100_orgs: float) -> dict[str, Any]:
    from provisioning.db import Database
    from provisioning.demo.seed import create_demo, database_is_empty
    from provisioning.demo.world import WorldParams
    from provisioning.finder.answers import refresh_matches

    db = Database(url)
    db.ensure_schema()
    started = time.perf_counter()
    if database_is_empty(db):
        params = WorldParams(orgs=orgs, seed=91, now=NOW, orders_per_100_orgs=orders_per_100_orgs)
        create_demo(db, params, "bench@example.com")
        refresh_matches(db, NOW)
    db.dispose()
    return {"build_s": time.perf_counter() - started}


def _render(url: str, page: str) -> dict[str, Any]:
    from sqlalchemy import func, select
    from streamlit.testing.v1 import AppTest

    from provisioning.db import Database
    from provisioning.models import Order
    from provisioning.orders.queue import queue

    os.environ["ONBOARD_DATABASE_URL"] = url
    db = Database(url)
    with db.read() as session:
        orders = session.scalar(select(func.count()).select_from(Order))
        first = queue(session, limit=1).rows
    db.dispose()
    timings = []
    for _ in range(RUNS + 1):
        app = AppTest.from_file(APP, default_timeout=120)
        app.session_state["ui_actor"] = "bench@example.com"
        if page != "queue":
            params = {"order": first[0].order_id} if page == "order" and first else None
            app.switch_page(f"views/{page}.py")
            if params:
                app.query_params.update(params)
        started = time.perf_counter()
        app.run()
        timings.append(time.perf_counter() - started)
        if app.exception:
            raise RuntimeError(f"{page}: {app.exception[0].message}")
    warm = sorted(timings[1:])
    return {"orders": orders, "cold_s": timings[0], "warm_s": warm[len(warm) // 2]}


def run(orgs: int, orders_per_100_orgs: float) -> None:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{SCRATCH / f'pages-{orgs}-{orders_per_100_orgs:g}.sqlite'}"
    built = in_child(_build, url=url, orgs=orgs, orders_per_100_orgs=orders_per_100_orgs)
    rows = []
    for page in PAGES:
        measured = in_child(_render, url=url, page=page)
        rows.append(
            {
                "page": page,
                "orders": measured["orders"],
                "first render s": measured["cold_s"],
                "warm render s (median)": measured["warm_s"],
                "peak RSS MiB": measured["peak_rss_mib"],
            }
        )
    print_table(
        f"dashboard pages, server side (target: warm <= 1 s; database built in "
        f"{built['build_s']:.0f} s)",
        rows,
        floatfmt=",.2f",
    )
