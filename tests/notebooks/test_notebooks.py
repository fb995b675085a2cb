"""The analyst notebooks: stored without outputs, and run top to bottom (01 → 04) with
papermill against one small demo database, as an analyst would run them.

Notebook 03 writes: after it, the version it published must be what `onboard match` uses,
and its audit trail must show the rollback it made before re-activating that version.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from matching import persistence
from matching.matcher import match_order
from provisioning import finder
from provisioning.cli import cli
from provisioning.db import Database
from provisioning.demo.accounts import create_demo_accounts
from provisioning.demo.seed import create_demo
from provisioning.demo.world import WorldParams
from provisioning.finder.source import SqlCandidateSource
from provisioning.models import ModelVersion, Order
from provisioning.models.base import utcnow
from provisioning.reports import analysis

pytestmark = pytest.mark.notebooks

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ORDER = ("01_explore_orders", "02_tune_matcher", "03_publish_model", "04_backlog")
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
# Small enough to run in seconds, with enough decided orders (~130) for 5 grouped folds.
WORLD = WorldParams(orgs=400, seed=3, now=NOW, orders_per_100_orgs=40.0, history_share=0.7)
ACTOR = "analyst@desk.example"  # the demo's analyst account (create_demo_accounts)
# Notebook 02's grids, trimmed: the test proves the notebook runs, not which C is best.
TUNING = {
    "C_GRID": [0.3, 3.0],
    "CLASS_WEIGHTS": [None, "balanced"],
    "GB_GRID": [{"max_depth": 2, "learning_rate": 0.1}],
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One demo database for the four notebooks, and where they write their outputs."""
    directory = tmp_path_factory.mktemp("notebooks")
    url = f"sqlite:///{directory / 'demo.sqlite'}"
    db = Database(url)
    db.ensure_schema()
    create_demo(db, WORLD, "demo@example.com")
    create_demo_accounts(db, NOW)  # 03 publishes as the demo's analyst account
    db.dispose()
    yield {"url": url, "dir": directory, "choice": directory / "choice.json"}


def _run(name: str, workspace: dict[str, Any], **parameters: Any) -> nbformat.NotebookNode:
    """Execute a notebook as papermill does (parameters injected after the cell tagged
    `parameters`), failing with the cell's traceback if any cell raises."""
    output = workspace["dir"] / f"{name}.out.ipynb"
    return papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(output),
        parameters={"DATABASE_URL": workspace["url"], "AS_OF": NOW.isoformat(), **parameters},
        kernel_name="python3",
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        log_output=False,
        execution_timeout=300,
    )


def _figures(notebook: nbformat.NotebookNode) -> list[dict[str, Any]]:
    return [
        output["data"]["application/vnd.plotly.v1+json"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "application/vnd.plotly.v1+json" in output.get("data", {})
    ]


def _assert_readable(notebook: nbformat.NotebookNode, at_least: int) -> None:
    """Every plot has a title and a titled value axis (where its unit is said; a category
    axis, such as partner names on a horizontal bar chart, may go without)."""
    figures = _figures(notebook)
    assert len(figures) >= at_least
    for figure in figures:
        layout = figure["layout"]
        assert layout.get("title", {}).get("text"), "a plot without a title"
        axis_titles = [
            value.get("title", {}).get("text")
            for key, value in layout.items()
            if key.startswith(("xaxis", "yaxis")) and isinstance(value, dict)
        ]
        assert any(axis_titles), f"no axis title in {layout['title']['text']!r}"


def test_the_notebooks_are_stored_clean_with_a_parameters_cell() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == list(ORDER)
    for name in ORDER:
        notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nbformat.validate(notebook)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        for cell in code:
            assert cell.outputs == [] and cell.execution_count is None, name
        tagged = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
        assert len(tagged) == 1, name
        assert 'os.environ.get("ONBOARD_DATABASE_URL") or default_database_url()' in (
            tagged[0].source
        )
        assert notebook.metadata.kernelspec.name == "python3"


def test_01_explore_orders(workspace: dict[str, Any]) -> None:
    _assert_readable(_run("01_explore_orders", workspace), at_least=6)


def test_02_tune_matcher_writes_its_choice_and_nothing_else(workspace: dict[str, Any]) -> None:
    notebook = _run("02_tune_matcher", workspace, CHOICE_PATH=str(workspace["choice"]), **TUNING)
    _assert_readable(notebook, at_least=4)
    choice = json.loads(workspace["choice"].read_text(encoding="utf-8"))
    assert choice["estimator"] == "logistic_regression" and choice["C"] in TUNING["C_GRID"]
    assert 0 <= choice["thresholds"]["review"] <= choice["thresholds"]["auto"] <= 1
    assert choice["cross_validation"]["orders"] > 100
    db = Database(workspace["url"])
    assert finder.list_models(db) == []  # tuning never publishes
    db.dispose()


def test_03_publish_model_is_what_onboard_match_uses_next(workspace: dict[str, Any]) -> None:
    parameters = {"ACTOR": ACTOR}
    if workspace["choice"].exists():  # written by the 02 test; alone, 03 uses its defaults
        parameters["CHOICE_PATH"] = str(workspace["choice"])
    _assert_readable(_run("03_publish_model", workspace, **parameters), at_least=1)

    db = Database(workspace["url"])
    [published] = finder.list_models(db)
    assert published["active"] and finder.active_version(db) == published["version"]
    with db.read() as session:
        trail = analysis.model_history(session)
        row = session.get_one(ModelVersion, published["version"])
        published_model = persistence.load(row.artifact, row.params["settings"])
        waiting = session.scalars(select(Order).where(Order.state == "awaiting_org")).all()
        queries = {o.order_id: finder.order_query(o) for o in waiting}
    # The notebook published, rolled back to the shipped model, then re-activated.
    assert list(trail.action) == ["model.publish", "model.rollback", "model.activate"]
    assert trail.after[1] == {"active": finder.DEFAULT_VERSION}
    if "CHOICE_PATH" in parameters:
        choice = json.loads(workspace["choice"].read_text(encoding="utf-8"))
        assert row.thresholds == choice["thresholds"] and row.params["C"] == choice["C"]

    result = CliRunner().invoke(
        cli, ["--db", workspace["url"], "match", "--all", "--format", "jsonl"]
    )
    assert result.exit_code == 0, result.output
    now = utcnow()
    lines = {line["order_id"]: line for line in map(json.loads, result.stdout.splitlines())}
    assert set(queries) <= set(lines) and queries
    shipped_differs = False
    with db.read() as session:
        source = SqlCandidateSource(session)
        for order_id, query in queries.items():
            expected = match_order(query, source, published_model, now)
            shipped = match_order(query, source, persistence.load_default(), now)
            got = lines[order_id]
            assert got["recommended_org_id"] == expected.recommended_org_id, order_id
            assert got["confidence"] == pytest.approx(expected.confidence, abs=1e-3), order_id
            shipped_differs |= abs(shipped.confidence - expected.confidence) > 1e-3
    db.dispose()
    assert shipped_differs, "the published and shipped models must be told apart"


def test_04_backlog(workspace: dict[str, Any]) -> None:
    _assert_readable(_run("04_backlog", workspace), at_least=5)
