"""Import throughput and peak memory: a generated dataset into SQLite and PostgreSQL.

The issue's yardstick is 100k orgs with about a million members; a smaller size is run
too so that memory growth with file size is visible (it should be flat).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.harness import SCRATCH, fresh_sqlite, in_child, postgres_schema, print_table

MEMBERS_PER_ORG = 13.0  # ~1M members at 100k orgs


def dataset(orgs: int, seed: int = 1) -> tuple[Path, dict[str, Any]]:
    """Generate (or reuse) the dataset of `orgs` orgs; returns its directory and timings."""
    directory = SCRATCH / f"dataset-{orgs}-{seed}"
    marker = directory / ".complete"
    if marker.exists():
        return directory, {"generated_s": None}
    return directory, in_child(_generate, orgs=orgs, seed=seed, directory=str(directory))


def _generate(orgs: int, seed: int, directory: str) -> dict[str, Any]:
    from provisioning.demo.world import WorldParams, generate_world

    started = time.perf_counter()
    summary = generate_world(
        WorldParams(orgs=orgs, seed=seed, members_per_org=MEMBERS_PER_ORG), Path(directory)
    )
    (Path(directory) / ".complete").touch()
    return {"generated_s": time.perf_counter() - started, "rows": sum(summary.counts.values())}


def _import(url: str, directory: str) -> dict[str, Any]:
    from provisioning.dataset import import_dataset
    from provisioning.db import Database

    db = Database(url)
    db.ensure_schema()
    started = time.perf_counter()
    report = import_dataset(db, Path(directory), "bench@example.com")
    # What the person running `onboard import` waits for: also the commit (on SQLite the
    # WAL checkpoint of everything written) and the statistics refresh after it.
    end_to_end = time.perf_counter() - started
    again = import_dataset(db, Path(directory), "bench@example.com")
    db.dispose()
    return {
        "rows": report.rows,
        "seconds": report.seconds,
        "rows_per_s": report.rows_per_second,
        "end_to_end_s": end_to_end,
        "reimport_s": again.seconds,
        "reimport_changed": again.changed,
    }


def run(sizes: list[int], backends: list[str]) -> None:
    results = []
    for orgs in sizes:
        directory, generated = dataset(orgs)
        for backend in backends:
            if backend == "sqlite":
                measured = in_child(
                    _import, url=fresh_sqlite(f"import-{orgs}"), directory=str(directory)
                )
            else:
                with postgres_schema() as url:
                    measured = in_child(_import, url=url, directory=str(directory))
            results.append(
                {
                    "orgs": orgs,
                    "backend": backend,
                    "rows": measured["rows"],
                    "import s": measured["seconds"],
                    "rows/s": measured["rows_per_s"],
                    "with commit s": measured["end_to_end_s"],
                    "peak RSS MiB": measured["peak_rss_mib"],
                    "re-import s": measured["reimport_s"],
                    "re-import changed": measured["reimport_changed"],
                    "generate s": generated["generated_s"],
                }
            )
    print_table("onboard import (target: >= 200k rows/s on SQLite, flat memory)", results)
