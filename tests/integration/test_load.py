"""The scale-out load test, small: four operator processes race on the head of one
PostgreSQL queue for a few seconds while two outbox senders deliver, and nothing is lost,
mapped twice or sent twice (`benchmarks/load_test.py` holds the harness and the checks;
`python -m benchmarks --only load` is the full run)."""

from __future__ import annotations

import pytest

from benchmarks.load_test import LoadConfig, run_load

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_operators_racing_on_one_queue_lose_nothing_and_do_nothing_twice(
    postgres_schema_url: str,
) -> None:
    # head=1: everyone working a lane takes the same order, so races are certain.
    config = LoadConfig(operators=4, seconds=5.0, orgs=300, head=1)

    report = run_load(postgres_schema_url, config)

    failed = [f"{check.name}: {check.detail}" for check in report.checks if not check.passed]
    assert not failed, failed
    assert report.outcomes["changed"] > 0, report.outcomes
    assert report.outcomes["conflict"] + report.outcomes["repeat"] > 0, report.outcomes
    assert report.emails_sent == report.smtp_deliveries
