"""What every benchmark shares: isolated child processes, peak memory, scratch databases.

Each measured step runs in a fresh child process so its peak RSS is its own (not the
parent's, nor an earlier step's) and so caches start cold where that is the point.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tabulate import tabulate

from provisioning.db import normalize_url

POSTGRES_URL = os.environ.get(
    "ONBOARD_BENCH_POSTGRES_URL",
    os.environ.get("ONBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
SCRATCH = Path(os.environ.get("ONBOARD_BENCH_DIR", Path(tempfile.gettempdir()) / "onboard-bench"))


def peak_rss_mib() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(queue: mp.Queue, func: Callable[..., dict[str, Any]], kwargs: dict[str, Any]) -> None:
    try:
        baseline = peak_rss_mib()
        result = func(**kwargs)
        result.setdefault("peak_rss_mib", round(peak_rss_mib(), 1))
        result.setdefault("rss_growth_mib", round(peak_rss_mib() - baseline, 1))
        queue.put(("ok", result))
    except BaseException as exc:  # report, don't hang the parent
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def in_child(func: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """Run `func(**kwargs)` in a fresh interpreter and return its result dict."""
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(queue, func, kwargs))
    process.start()
    status, payload = queue.get()
    process.join()
    if status != "ok":
        raise RuntimeError(f"{func.__name__} failed in child: {payload}")
    return payload


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A private schema on the benchmark PostgreSQL, dropped afterwards."""
    base = normalize_url(POSTGRES_URL)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def fresh_sqlite(name: str) -> str:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    path = SCRATCH / f"{name}.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


@dataclass
class Timer:
    seconds: float = 0.0

    @contextmanager
    def measure(self) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds = time.perf_counter() - start


def print_table(title: str, rows: list[dict[str, Any]], floatfmt: str = ",.1f") -> None:
    print(f"\n## {title}\n", flush=True)
    print(tabulate(rows, headers="keys", tablefmt="github", floatfmt=floatfmt), flush=True)
    sys.stdout.flush()
