"""A stream of order actions, as an operator working the queue does them, for the fault
tests to kill: `python -m tests.faults.order_actions URL [LIMIT]`.

Each waiting order is resolved through the service layer (who it is for, a new org, its
services left for later), one action per transaction, until LIMIT orders are done.
"""

from __future__ import annotations

import contextlib
import sys

from sqlalchemy import select

from provisioning import orders
from provisioning.db import Database
from provisioning.errors import Conflict, InvalidInput
from provisioning.models import Order
from provisioning.states import OrderState
from tests.people import OPERATOR


def work(url: str, limit: int) -> int:
    db = Database(url)
    done = 0
    try:
        with db.read() as session:
            waiting = session.scalars(
                select(Order.order_id)
                .where(Order.state == OrderState.AWAITING_INTENT.value)
                .order_by(Order.order_id)
                .limit(limit)
            ).all()
        for order_id in waiting:
            try:
                orders.set_intent(db, order_id, "own-company", OPERATOR)
                orders.create_org(db, order_id, f"Org of {order_id}", "Retail", "SE", OPERATOR)
                for service in ("meetings", "calling"):
                    with contextlib.suppress(InvalidInput):  # the order has no such service
                        orders.configure_later(db, order_id, service, OPERATOR)
            except Conflict:
                continue  # an earlier, killed run left it further along
            done += 1
    finally:
        db.dispose()
    return done


if __name__ == "__main__":
    print(work(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10**9))
