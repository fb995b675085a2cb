"""`matching` is pure: plain data in, ranked candidates out. Every module of it imports
with the database, the UI and the rest of the product made unimportable."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import matching

BLOCKED = ("sqlalchemy", "alembic", "psycopg", "streamlit", "provisioning", "dashboard", "fpdf")

_PROBE = """
import importlib, importlib.abc, sys
BLOCKED = {blocked!r}
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"matching must not import {{name}}")
        return None
sys.meta_path.insert(0, Refuse())
for module in {modules!r}:
    importlib.import_module(module)
print("pure")
"""


def test_every_matching_module_imports_without_the_database_or_the_ui() -> None:
    modules = sorted(
        f"matching.{info.name}"
        for info in pkgutil.walk_packages([str(Path(matching.__file__).parent)])
    )
    assert "matching.scorer" in modules and "matching.risk_control" in modules
    probe = _PROBE.format(blocked=BLOCKED, modules=modules)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "pure", done.stderr[-2000:]


def test_the_probe_does_refuse_a_blocked_import() -> None:
    probe = _PROBE.format(blocked=BLOCKED, modules=["provisioning.db"])
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode != 0 and "must not import provisioning" in done.stderr
