"""The finder's answer as a viewer may see it, checked in the service layer: a partner
admin sees its own customers' orgs only, and no recommendation when the pick is not one
of them; an operator sees every candidate; no one sees another partner's order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.errors import Forbidden, NotFound
from provisioning.finder.for_viewer import answer_for
from tests.conftest import FIXTURES
from tests.people import ADMIN, OPERATOR, partner_admin

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
FJORD = partner_admin("org-fjord")  # manages org-acme and org-nordvik, not org-acme-sales
# Fjord orders for a contact who is a user of Acme Sales, an org Fjord does not manage.
OTHERS_PICK = {
    "orgs.csv": "org_id,name,country,industry,created_at,status,partner_id\n",
    "domains.csv": "org_id,domain,status\n",
    "users.csv": "org_id,email,status,last_activity_at\n",
    "orders.csv": "order_id,placed_at,partner_id,provisioning_email,company_name,country\n"
    "ORD-1101,2026-11-23T09:00:00Z,org-fjord,lena.sales@acme.se,Acme Sales,SE\n",
    "order_lines.csv": "order_id,service,quantity,is_trial_conversion,is_addon\n"
    "ORD-1101,meetings,10,false,false\n",
}


@pytest.fixture
def mini(db: Database, tmp_path: Path) -> Database:
    import_dataset(db, FIXTURES / "mini", OPERATOR.email)
    extra = tmp_path / "extra"
    extra.mkdir()
    for name, text in OTHERS_PICK.items():
        (extra / name).write_text(text, encoding="utf-8")
    import_dataset(db, extra, OPERATOR.email)
    return db


def test_an_operator_sees_every_candidate_and_the_pick(mini: Database) -> None:
    answer = answer_for(mini, OPERATOR, "ORD-1101", now=NOW)
    assert answer.recommended_org_id == "org-acme-sales" and not answer.withheld
    assert "org-acme-sales" in [c.org_id for c in answer.candidates]
    assert answer.model_confidence is not None


def test_a_partner_admin_sees_only_its_customers_and_no_pick_of_another(mini: Database) -> None:
    answer = answer_for(mini, FJORD, "ORD-1101", now=NOW)
    shown = [c.org_id for c in answer.candidates]
    assert "org-acme-sales" not in shown and "org-acme" in shown
    assert answer.withheld and answer.recommended_org_id is None
    assert answer.why_first is None and answer.doubts == () and answer.model_confidence is None
    # Its own customer's order: the pick is one of its orgs, shown with its reasons.
    own = answer_for(mini, FJORD, "ORD-1004", now=NOW)
    assert own.recommended_org_id == "org-nordvik" and not own.withheld


def test_another_partners_order_and_a_reader_without_the_right_are_refused(
    mini: Database,
) -> None:
    with pytest.raises(NotFound):
        answer_for(mini, partner_admin("org-elsewhere"), "ORD-1101", now=NOW)
    with pytest.raises(NotFound):
        answer_for(mini, FJORD, "ORD-1002", now=NOW)  # no partner: not Fjord's
    with pytest.raises(Forbidden):  # an accounts administrator reads no orders
        answer_for(mini, ADMIN, "ORD-1101", now=NOW)
