"""Packages that re-export their submodules' names, imported on first use.

`from provisioning import finder; finder.match_one(...)` reads as one service, yet
importing one submodule (`provisioning.finder.org_search`) must not load the scorer's
libraries, nor `onboard --help` the outbox's: the package's `__getattr__` (PEP 562)
imports the submodule that defines a name when the name is first asked for.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """The `__getattr__` of `package`, serving each of `names` (name -> submodule)."""

    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(importlib.import_module(f"{package}.{names[name]}"), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
