"""`onboard orders …` as operators script it: the documented names, options, JSON keys
and exit codes (2: refused input, nothing changed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from provisioning.access import Actor, Role
from provisioning.cli import cli
from provisioning.db import Database
from tests.conftest import FIXTURES
from tests.people import add_accounts

OPS = Actor("ops@example.com", Role.OPERATOR)

pytestmark = pytest.mark.db


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ONBOARD_ACTOR", "ops@example.com")
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, ["--db", database_url, *args])

    assert invoke("import", str(FIXTURES / "mini")).exit_code == 0
    db = Database(database_url)
    add_accounts(db, OPS, Actor("kim@example.com", Role.OPERATOR))
    db.dispose()
    return invoke


def _show(run) -> dict:
    result = run("orders", "show", "ORD-1001", "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_an_order_from_intent_to_complete_through_the_cli(run, tmp_path: Path) -> None:
    assert run("orders", "intent", "ORD-1001", "customer").exit_code == 0
    mapped = run("orders", "map", "ORD-1001", "--org", "org-acme", "--actor", "kim@example.com")
    assert mapped.exit_code == 0 and "org_mapped" in mapped.stdout
    meetings = run(
        "orders", "meetings", "ORD-1001",
        "--site", "acme-logistik:200", "--site", "acme-lab:50",
        "--timezone", "Europe/Stockholm", "--early-release",
    )  # fmt: skip
    assert meetings.exit_code == 0, meetings.stderr
    calling = run(
        "orders", "calling", "ORD-1001", "--location", "Stockholm HQ", "--country", "SE",
        "--address1", "Sveavägen 1", "--city", "Stockholm", "--postal-code", "111 57",
    )  # fmt: skip
    assert calling.exit_code == 0, calling.stderr

    detail = _show(run)
    assert detail["state"] == "complete" and detail["intent"] == "customer"
    assert detail["org_id"] == "org-acme" and detail["decided_by"] == "kim@example.com"
    assert detail["services"]["meetings"]["state"] == "provisioned"
    assert detail["services"]["meetings"]["sites"] == [
        {
            "name": "acme-logistik",
            "url": "https://acme-logistik.webex.com",
            "licences": 200,
            "timezone": "Europe/Stockholm",
            "early_release": True,
            "users_managed_in": "control_hub",
        },
        {
            "name": "acme-lab",
            "url": "https://acme-lab.webex.com",
            "licences": 50,
            "timezone": "Europe/Stockholm",
            "early_release": True,
            "users_managed_in": "control_hub",
        },
    ]
    location = detail["services"]["calling"]["location"]
    assert (location["name"], location["country"]) == ("Stockholm HQ", "SE")
    again = run("orders", "intent", "ORD-1001", "customer")
    assert again.exit_code == 1 and "complete" in again.stderr  # a finished order is closed

    listed = json.loads(run("orders", "list", "--state", "complete", "--format", "json").stdout)
    assert [row["order_id"] for row in listed] == ["ORD-1001"]
    table = run("orders", "show", "ORD-1001")
    assert table.exit_code == 0 and "acme-logistik" in table.stdout


def test_later_self_setup_and_delegate_through_the_cli(run) -> None:
    assert (
        run("orders", "intent", "ORD-1004", "delegate", "--email", "it@nordvik.se").exit_code == 0
    )
    assert run("orders", "show", "ORD-1004", "--format", "json").stdout.count("delegated") >= 1
    assert run("orders", "intent", "ORD-1003", "customer").exit_code == 0
    created = run(
        "orders", "create-org", "ORD-1003", "--name", "Sjöberg Media AB",
        "--industry", "Media", "--country", "SE", "--format", "json",
    )  # fmt: skip
    assert created.exit_code == 0 and json.loads(created.stdout)["changed"] is True
    assert run("orders", "later", "ORD-1003", "meetings").exit_code == 0
    handed = run("orders", "self-setup", "ORD-1003", "--admin-email", "vd@sjoberg-media.se")
    assert handed.exit_code == 0
    detail = json.loads(run("orders", "show", "ORD-1003", "--format", "json").stdout)
    assert detail["services"]["meetings"]["state"] == "customer_self_setup"
    outbox = run("outbox", "list", "--format", "json")
    assert outbox.exit_code == 0, outbox.stderr
    assert {"delegate", "self_setup"} <= {row["kind"] for row in json.loads(outbox.stdout)}


def test_invalid_input_exits_2_naming_the_field_and_changes_nothing(run) -> None:
    run("orders", "intent", "ORD-1001", "customer")
    run("orders", "map", "ORD-1001", "--org", "org-acme")
    before = _show(run)
    bad_split = run(
        "orders", "meetings", "ORD-1001", "--site", "acme-a:200", "--site", "acme-b:49",
        "--timezone", "Europe/Stockholm",
    )  # fmt: skip
    assert bad_split.exit_code == 2 and "licences" in bad_split.stderr
    bad_site = run("orders", "meetings", "ORD-1001", "--site", "acme", "--timezone", "UTC")
    assert bad_site.exit_code == 2 and "--site" in bad_site.stderr
    bad_name = run("orders", "meetings", "ORD-1001", "--site", "www:250", "--timezone", "UTC")
    assert bad_name.exit_code == 2 and "site" in bad_name.stderr
    bad_country = run(
        "orders", "calling", "ORD-1001", "--location", "HQ", "--country", "XX",
        "--address1", "x", "--city", "y", "--postal-code", "1",
    )  # fmt: skip
    assert bad_country.exit_code == 2 and "country" in bad_country.stderr
    unknown_org = run("orders", "map", "ORD-1002", "--org", "org-nope")
    assert unknown_org.exit_code == 2 and "org" in unknown_org.stderr
    missing = run("orders", "show", "ORD-404")
    assert missing.exit_code == 2
    bad_intent = run("orders", "intent", "ORD-1002", "somebody")
    assert bad_intent.exit_code == 2
    assert _show(run) == before


def test_check_site_suggests_free_names(run) -> None:
    answer = run("orders", "check-site", "WWW", "--company", "Acme Logistik AB", "--format", "json")
    assert answer.exit_code == 2  # a reserved name: not valid input
    data = json.loads(answer.stdout)
    assert data["free"] is False and data["valid"] is False and data["suggestions"]
    assert all(name.startswith("acme") for name in data["suggestions"])
    free = run("orders", "check-site", data["suggestions"][0])
    assert free.exit_code == 0 and free.stdout.endswith(": free\n")


def test_an_order_past_its_deadline_is_refused_by_the_command_itself(
    run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No sweep has run: the action checks the deadline (placed days ago, one day
    allowed), says so in one line and changes nothing."""
    before = _show(run)
    monkeypatch.setenv("ONBOARD_SETUP_DEADLINE_DAYS", "1")
    refused = run("orders", "intent", "ORD-1001", "customer")
    assert refused.exit_code == 1
    assert (
        "its deadline passed on" in refused.stderr and "can no longer be changed" in refused.stderr
    )
    after = _show(run)
    assert after.pop("deadline") < before.pop("deadline")  # now one day after placing
    assert after == before


def test_deadlines_command_reports_what_it_did(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONBOARD_SETUP_DEADLINE_DAYS", "1")
    result = run("orders", "deadlines", "--format", "json")
    assert result.exit_code == 0, result.stderr
    expired = json.loads(result.stdout)["expired"]
    assert {"ORD-1001", "ORD-1005"} <= set(expired)  # placed days ago, one day allowed
    assert json.loads(run("orders", "deadlines", "--format", "json").stdout)["expired"] == []
