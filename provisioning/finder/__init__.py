"""The organization finder on the system of record: everything that runs, stores and
judges the pure finder of `matching` against the database.

- `active`: which scorer is in use (the active version, else the shipped model);
- `running`: the finder's view of an order, matching one or every waiting order, the
  decided history as labelled orders;
- `versions`: train, evaluate, list, activate, publish and roll back scorer versions;
- `source`: the finder's look-ups answered with bounded, indexed queries;
- `answers`: each waiting order's answer kept for the queue (`order_matches`);
- `diagnostics`: a version measured on the decided history, its misses explained;
- `watch`: the active version's confident band against the decisions made since;
- `blind_review`: operators' picks made before seeing the model's;
- `org_search`: finding any org by id, e-mail, domain or name;
- `shipped`: building the model that ships with the project.

The most used names are re-exported here (`finder.match_one`, `finder.train`, …) and
imported on first use, so importing one submodule (`org_search`) does not load the
scorer's libraries.
"""

from __future__ import annotations

from provisioning import lazy

_EXPORTS = {
    "DEFAULT_VERSION": "active",
    "ActiveModel": "active",
    "active_model": "active",
    "load_version": "active",
    "MATCH_BATCH": "running",
    "order_query": "running",
    "trial_conversions": "running",
    "match_one": "running",
    "match_all": "running",
    "candidate_sets": "running",
    "created_for": "running",
    "labelled_orders": "running",
    "ACTIVATION_TOLERANCE": "versions",
    "TrainReport": "versions",
    "fit_history": "versions",
    "train": "versions",
    "evaluate": "versions",
    "list_models": "versions",
    "model_versions": "versions",
    "VersionSummary": "versions",
    "HELD_OUT_METRICS": "versions",
    "activate": "versions",
    "active_version": "versions",
    "publish": "versions",
    "rollback": "versions",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy.exports(__name__, _EXPORTS)
