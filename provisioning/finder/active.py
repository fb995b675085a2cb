"""Which scorer the finder uses: the active stored version, else the shipped model.

The active version is the newest one marked active; with none, the model that ships with
the project is used, so a fresh install matches out of the box. A stored artifact is
deserialised once per process.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matching import persistence
from matching.scorer import Model
from provisioning.models import ModelVersion

DEFAULT_VERSION = "default"


@dataclass(frozen=True, slots=True)
class ActiveModel:
    model: Model
    version: int | str  # a ModelVersion number, or "default" (the shipped model)


def _newest_active(what: Any) -> Any:
    return (
        select(what)
        .where(ModelVersion.is_active.is_(True))
        .order_by(ModelVersion.version.desc())
        .limit(1)
    )


def active_model(session: Session) -> ActiveModel:
    row = session.scalars(_newest_active(ModelVersion)).first()
    if row is None:
        return ActiveModel(persistence.load_default(), DEFAULT_VERSION)
    return ActiveModel(load_version(row), row.version)


def active_version_of(session: Session) -> int | str:
    """The version matching uses now, as `active_model` picks it, without loading any
    artifact: the newest active one, or "default" (the shipped model)."""
    version = session.scalar(_newest_active(ModelVersion.version))
    return DEFAULT_VERSION if version is None else version


def load_version(row: ModelVersion) -> Model:
    """Versions never change once stored: each artifact is deserialised once per process
    (keyed by its digest, so two databases' "version 1" never mix)."""
    settings = row.params.get("settings", {})
    digest = hashlib.sha256(row.artifact)
    digest.update(json.dumps(settings, sort_keys=True).encode())
    key = digest.hexdigest()
    if key not in _LOADED:
        _LOADED[key] = persistence.load(row.artifact, settings)
    return _LOADED[key]


_LOADED: dict[str, Model] = {}
