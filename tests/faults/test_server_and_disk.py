"""The database's server restarted under a running command, and the disk filling up under
SQLite: the command says so in one line (no traceback, no SQL, no customer data), the
database is as before, and the next command works."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from provisioning.demo.world import WorldParams, generate_world
from tests.conftest import private_postgres_schema
from tests.faults.conftest import (
    ROOT,
    fingerprint,
    onboard,
    one_line_failure,
    opened,
    postgres_restart,
    startup_seconds,
    wait_for_postgres,
)


@pytest.fixture(scope="module")
def big_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Big enough that loading it into PostgreSQL takes several seconds."""
    directory = tmp_path_factory.mktemp("big-world")
    generate_world(WorldParams(orgs=12_000, seed=9), directory)
    return directory


@pytest.mark.postgres
def test_postgresql_restarted_under_an_import_fails_it_in_one_line_and_keeps_nothing(
    big_world: Path,
) -> None:
    with private_postgres_schema() as url:
        with opened(url) as db:
            db.ensure_schema()
            empty = fingerprint(db)
        # How long a clean load takes, on a throw-away schema: the restart lands inside it.
        with private_postgres_schema() as probe:
            clean = onboard(probe, "import", str(big_world))
            assert clean.returncode == 0, clean.stderr
        work = clean.seconds - startup_seconds()
        assert work > 1.0, "the load is too quick to restart the server inside it"

        restarted = threading.Event()

        def restart_midway() -> None:
            time.sleep(startup_seconds() + work * 0.4)
            postgres_restart()
            restarted.set()

        restarter = threading.Thread(target=restart_midway)
        restarter.start()
        failed = onboard(url, "import", str(big_world))
        restarter.join()
        assert restarted.is_set()
        wait_for_postgres(url)
        if failed.returncode == 0:
            pytest.skip("the load finished before the restart (machine too fast or busy)")
        line = one_line_failure(failed)
        assert failed.returncode == 1
        assert line.startswith("error: cannot reach the database") or "rolled back" in line
        assert "@" not in line.split("(")[0]  # no customer e-mail in what is shown
        with opened(url) as db:
            assert fingerprint(db) == empty  # the load was one transaction: nothing kept

        again = onboard(url, "import", str(big_world), "--format", "json")
        assert again.returncode == 0, again.stderr
        assert '"changed": 0' not in again.stdout  # it loaded everything this time


def _list(url: str) -> list[str]:
    return ["--db", url, "orders", "list", "--format", "json"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[tuple[Path, Callable[[str], None]]]:
    """A folder on a tmpfs of a few MiB (mounting needs root, as on these machines and CI);
    the second value resizes it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1600k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small disk here: {done.stderr.decode().strip()}")

    def resize(size: str) -> None:
        subprocess.run(
            ["mount", "-o", f"remount,size={size}", str(mount)], check=True, capture_output=True
        )

    try:
        yield mount, resize
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_under_sqlite_fails_the_import_in_one_line_and_keeps_nothing(
    small_disk: tuple[Path, Callable[[str], None]], tmp_path: Path
) -> None:
    mount, resize = small_disk
    world = tmp_path / "world"
    generate_world(WorldParams(orgs=3000, seed=9), world)
    url = f"sqlite:///{mount / 'onboard.sqlite'}"
    with opened(url) as db:
        db.ensure_schema()
        empty = fingerprint(db)

    full = onboard(url, "import", str(world))

    assert full.returncode == 1, full.stdout + full.stderr
    line = one_line_failure(full)
    assert "the disk holding the database is full" in line and "free space" in line
    with opened(url) as db:
        assert fingerprint(db) == empty
    resize("64m")
    again = onboard(url, "import", str(world))
    assert again.returncode == 0, again.stderr
    listed = subprocess.run(
        [sys.executable, "-c", "from provisioning.cli import main; main()", *_list(url)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.startswith("[")
    with opened(url) as db:
        assert fingerprint(db)["counts"]["orders"] > 0  # type: ignore[index]
    shutil.rmtree(world)
