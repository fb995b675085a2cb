"""Tables for the analysts' notebooks, as pandas DataFrames: the world, the finder's view of
every order, its candidates, its errors, and the backlog per partner.

The notebooks hold no SQL and no copy of the finder: they read through these functions
(and `provisioning.finder`, `provisioning.reports.backlog`, `matching.*`). Open, deferred,
stale, past the SLA and at risk are `definitions`' conditions, the ones the Backlog page
counts with. Database reads are
grouped queries or one pass over the orders in batches; the finder-side tables are
built from the same `find_candidates` the app runs, so a notebook sees what an operator
sees. One row per order or per (order, candidate); column names are stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, distinct, func, select, union
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from matching.candidates import (
    Candidate,
    Source,
)
from matching.evaluation import LabelledOrder, Prediction
from matching.explain import contrast, evidence
from matching.features import FEATURE_NAMES, feature_matrix
from matching.matcher import outcome_of
from matching.normalize import email_domain, is_free_mail
from matching.scorer import ScoredCandidate, rank
from matching.training import CrossValidation
from provisioning.db import Database, count_where
from provisioning.finder.running import candidate_sets, created_for
from provisioning.models import AuditEvent, Member, Order, Org, OrgDomain
from provisioning.models.base import utcnow
from provisioning.reports.definitions import (
    days_since,
    is_at_risk,
    is_deferred,
    is_delegated,
    is_open,
    is_past_sla,
    is_stale,
    partner_key,
)
from provisioning.states import Decision

NEW_ORG = "(new org)"  # how a "create a new organization" truth or prediction is shown
# A contribution gap (log-odds) below this did not decide anything.
_MATERIAL = 0.25


def open_database(url: str) -> Database:
    """The database a notebook reads, refused with a clear message unless it is an
    up-to-date Onboarding Desk database (a notebook never migrates or fills one)."""
    db = Database(url)
    try:
        current = db.current_revision()
    except SQLAlchemyError as exc:
        db.dispose()
        raise RuntimeError(f"cannot read {db.engine.url!r}: {exc}") from None
    if current != Database.head_revision():
        db.dispose()
        raise RuntimeError(
            f"{db.engine.url!r} is not an up-to-date Onboarding Desk database (schema "
            f"{current or 'none'}): run `onboard db upgrade`, or `onboard demo` into an empty one"
        )
    return db


def as_of(value: str | datetime | None) -> datetime:
    """The instant an analysis is computed at: an ISO 8601 text or datetime (no offset
    means UTC), or None for now. Ages, silences and trends are relative to it."""
    if value is None:
        return utcnow()
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- Orders and decisions -------------------------------------------------------------


def order_table(session: Session, now: datetime | None = None) -> pd.DataFrame:
    """Every order: dates, state, partner, and how its org was decided.

    `overridden` is True where an operator chose another org than the one recommended
    (decision `chose_other`, or a recorded recommendation that differs from the org).
    """
    now = now or utcnow()
    partner = Org.__table__.alias("partner")
    rows = session.execute(
        select(
            Order.order_id,
            Order.placed_at,
            Order.state,
            Order.state_changed_at,
            Order.partner_id,
            partner.c.name.label("partner_name"),
            Order.country,
            Order.company_name,
            Order.provisioning_email,
            Order.intent,
            Order.decision,
            Order.org_id,
            Order.new_org,
            Order.recommended_org_id,
            Order.decided_by,
            Order.decided_at,
        )
        .outerjoin(partner, partner.c.org_id == Order.partner_id)
        .order_by(Order.order_id)
    ).all()
    frame = pd.DataFrame(
        [row._asdict() for row in rows],
        columns=[
            "order_id",
            "placed_at",
            "state",
            "state_changed_at",
            "partner_id",
            "partner_name",
            "country",
            "company_name",
            "provisioning_email",
            "intent",
            "decision",
            "org_id",
            "new_org",
            "recommended_org_id",
            "decided_by",
            "decided_at",
        ],
    )
    frame["email_domain"] = [email_domain(e.strip().lower()) for e in frame["provisioning_email"]]
    frame["age_days"] = [days_since(now, placed) for placed in frame["placed_at"]]
    frame["decided"] = frame["decision"].notna()
    frame["overridden"] = (frame["decision"] == Decision.CHOSE_OTHER.value) | (
        frame["recommended_org_id"].notna()
        & frame["org_id"].notna()
        & ~frame["new_org"].astype(bool)
        & (frame["recommended_org_id"] != frame["org_id"])
    )
    return frame


# --- The finder's view: outcomes and candidates ----------------------------------------


def outcome_table(session: Session) -> pd.DataFrame:
    """Every order through the finder's candidate search: its outcome (exact / domain /
    none), how many candidates and how they were found, and for decided orders the
    truth and whether it was among the candidates at all (the scorer's ceiling)."""
    rows = []
    for order, found in candidate_sets(session, decided_only=False):
        decided = order.decision is not None
        new_org = created_for(order) if decided else None
        truth = None if not decided or new_org else order.org_id
        ids = {c.org_id for c in found.candidates}
        row: dict[str, Any] = {
            "order_id": order.order_id,
            "state": order.state,
            "decided": decided,
            "decision": order.decision,
            "outcome": outcome_of(found).value,
            "candidates": len(found.candidates),
            "exact": found.exact_org_id is not None,
            "registrable_domain": found.registrable,
            "subdomain": found.host != found.registrable,
            "free_mail": found.free_mail,
            "partner_own_address": found.partner_own_address,
        }
        for how in Source:
            row[f"found_by_{how.value}"] = sum(how in c.sources for c in found.candidates)
        row["truth_org_id"] = truth
        row["truth_new_org"] = new_org
        row["truth_among_candidates"] = (truth in ids) if truth is not None else None
        rows.append(row)
    return pd.DataFrame(rows)


def _domain_relation(candidate: Candidate) -> str:
    status = candidate.best_domain_status
    if status is not None:
        return status.value
    return "members only" if candidate.members_on_domain is not None else "no domain evidence"


def candidate_table(orders: Sequence[LabelledOrder]) -> pd.DataFrame:
    """One row per (decided order, candidate): the facts an operator weighs (activity,
    domain verification, status, how it was found), every scorer feature, and whether
    this candidate was the org chosen."""
    rows = []
    for order in orders:
        X = feature_matrix(order.found, order.now)
        for candidate, values in zip(order.found.candidates, X, strict=True):
            facts = candidate.facts
            row: dict[str, Any] = {
                "order_id": order.found.order.order_id,
                "org_id": candidate.org_id,
                "org_name": facts.name,
                "chosen": candidate.org_id == order.truth,
                "truth_new_org": order.truth is None,
                "found_by": "+".join(sorted(s.value for s in candidate.sources)),
                "domain_relation": _domain_relation(candidate),
                "org_status": facts.status,
                "members": facts.members,
                "active_members": facts.active_members,
                "days_silent": days_since(order.now, facts.last_activity_at),
                "org_age_days": days_since(order.now, facts.created_at),
                "candidates_in_order": len(order.found.candidates),
            }
            row.update(zip(FEATURE_NAMES, values.tolist(), strict=True))
            rows.append(row)
    return pd.DataFrame(rows)


def domain_sharing(session: Session) -> pd.DataFrame:
    """Per registrable domain: how many orgs added it (and at which verification level)
    and how many orgs have members on it; `orgs` counts the orgs with either. A domain
    several orgs touch is where the finder has to choose; free-mail domains are flagged
    (they are never evidence)."""
    held = session.execute(
        select(
            OrgDomain.registrable_domain,
            func.count(distinct(OrgDomain.org_id)),
            func.count(distinct(case((OrgDomain.status == "claimed", OrgDomain.org_id)))),
            func.count(distinct(case((OrgDomain.status == "verified", OrgDomain.org_id)))),
            func.count(distinct(case((OrgDomain.status == "unverified", OrgDomain.org_id)))),
        ).group_by(OrgDomain.registrable_domain)
    ).all()
    members = session.execute(
        select(
            Member.registrable_domain,
            func.count(distinct(Member.org_id)),
            func.count(),
            func.coalesce(func.sum(case((Member.status == "active", 1), else_=0)), 0),
        ).group_by(Member.registrable_domain)
    ).all()
    pairs = union(
        select(OrgDomain.registrable_domain.label("domain"), OrgDomain.org_id),
        select(Member.registrable_domain.label("domain"), Member.org_id),
    ).subquery()
    either = dict(
        session.execute(
            select(pairs.c.domain, func.count(distinct(pairs.c.org_id))).group_by(pairs.c.domain)
        ).all()
    )
    table: dict[str, dict[str, Any]] = {}
    empty = {
        "orgs_with_domain": 0,
        "claimed": 0,
        "verified": 0,
        "unverified": 0,
        "orgs_with_members": 0,
        "members": 0,
        "active_members": 0,
    }
    for domain, orgs, claimed, verified, unverified in held:
        table.setdefault(domain, dict(empty)).update(
            orgs_with_domain=orgs, claimed=claimed, verified=verified, unverified=unverified
        )
    for domain, orgs, count, active in members:
        table.setdefault(domain, dict(empty)).update(
            orgs_with_members=orgs, members=count, active_members=int(active)
        )
    frame = pd.DataFrame(
        [{"domain": d, **values} for d, values in sorted(table.items())],
        columns=["domain", *empty],
    )
    frame["free_mail"] = [is_free_mail(d) for d in frame["domain"]]
    frame["orgs"] = [int(either.get(d, 0)) for d in frame["domain"]]
    return frame


# --- Predictions and their errors ----------------------------------------------------


def prediction_table(
    orders: Sequence[LabelledOrder], predictions: Sequence[Prediction]
) -> pd.DataFrame:
    """One row per order: the truth, what the finder said, how sure it was, and where
    the truth ranked among the candidates (None: a new org, or not a candidate)."""
    rows = []
    for order, prediction in zip(orders, predictions, strict=True):
        truth_rank = (
            prediction.ranked.index(prediction.truth) + 1
            if prediction.truth in prediction.ranked
            else None
        )
        rows.append(
            {
                "order_id": order.found.order.order_id,
                "company_name": order.found.order.company_name,
                "provisioning_email": order.found.email,
                "outcome": outcome_of(order.found).value,
                "candidates": len(order.found.candidates),
                "truth": prediction.truth or NEW_ORG,
                "predicted": prediction.predicted or NEW_ORG,
                "correct": prediction.correct,
                "confidence": prediction.confidence,
                "truth_rank": truth_rank,
            }
        )
    return pd.DataFrame(rows)


def _pulls(scored: ScoredCandidate, sign: float, limit: int = 3) -> list[str]:
    """The features that pushed this candidate up (sign +1) or down (sign -1) most."""
    ordered = sorted(scored.contributions.items(), key=lambda kv: -sign * kv[1])
    return [f"{name} {value:+.1f}" for name, value in ordered[:limit] if sign * value >= _MATERIAL]


def error_table(cv: CrossValidation) -> pd.DataFrame:
    """Every order a cross-validation got wrong, read with the model that predicted it:
    what it chose over the truth, the evidence on both sides in the operator's words,
    and the features that misled it (log-odds; zero for models without a linear form).

    `kind`: `wrong org` (another org than the chosen one), `org instead of new` (the
    truth was a new org), `new instead of org` (it said new org), `truth not a
    candidate` (the search never found the chosen org: no scorer could get it right).
    """
    rows = []
    for index, (order, prediction) in enumerate(zip(cv.orders, cv.predictions, strict=True)):
        if prediction.correct:
            continue
        found, now = order.found, order.now
        ranking = rank(cv.model_of(index), found, now)
        by_id = {s.candidate.org_id: s for s in ranking.ranked}
        chosen = by_id.get(prediction.predicted) if prediction.predicted else None
        truth = by_id.get(order.truth) if order.truth else None
        if order.truth is not None and truth is None:
            kind, misled = "truth not a candidate", []
        elif chosen is not None and truth is not None:
            kind = "wrong org"
            gaps = {
                name: chosen.contributions[name] - truth.contributions[name]
                for name in FEATURE_NAMES
            }
            misled = [
                f"{name} {gap:+.1f}"
                for name, gap in sorted(gaps.items(), key=lambda kv: -kv[1])[:3]
                if gap >= _MATERIAL
            ]
        elif chosen is not None:
            kind, misled = "org instead of new", _pulls(chosen, +1)
        else:
            kind, misled = "new instead of org", _pulls(truth, -1) if truth else []
        rows.append(
            {
                "order_id": found.order.order_id,
                "company_name": found.order.company_name,
                "provisioning_email": found.email,
                "outcome": outcome_of(found).value,
                "kind": kind,
                "truth": order.truth or NEW_ORG,
                "truth_name": truth.candidate.facts.name if truth else None,
                "predicted": prediction.predicted or NEW_ORG,
                "predicted_name": chosen.candidate.facts.name if chosen else None,
                "confidence": round(prediction.confidence, 3),
                "p_new_org": round(ranking.p_none, 3),
                "truth_rank": (
                    prediction.ranked.index(order.truth) + 1
                    if order.truth in prediction.ranked
                    else None
                ),
                "misled_by": "; ".join(misled) or None,
                "why_first": contrast(ranking, now),
                "predicted_evidence": "; ".join(evidence(found, chosen.candidate, now))
                if chosen
                else None,
                "truth_evidence": "; ".join(evidence(found, truth.candidate, now))
                if truth
                else None,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "order_id",
            "company_name",
            "provisioning_email",
            "outcome",
            "kind",
            "truth",
            "truth_name",
            "predicted",
            "predicted_name",
            "confidence",
            "p_new_org",
            "truth_rank",
            "misled_by",
            "why_first",
            "predicted_evidence",
            "truth_evidence",
        ],
    )


def pair_calibration(cv: CrossValidation) -> pd.DataFrame:
    """Each held-out (order, candidate) pair's independent probability (the pipeline's
    own p_i, before the order-level normalisation) and whether it was the chosen org:
    the data of a per-candidate calibration curve."""
    rows = []
    for index, order in enumerate(cv.orders):
        for scored in rank(cv.model_of(index), order.found, order.now).ranked:
            rows.append(
                {
                    "order_id": order.found.order.order_id,
                    "org_id": scored.candidate.org_id,
                    "probability": scored.independent,
                    "chosen": scored.candidate.org_id == order.truth,
                }
            )
    return pd.DataFrame(rows, columns=["order_id", "org_id", "probability", "chosen"])


# --- The backlog per partner ---------------------------------------------------------


def open_orders(
    session: Session,
    now: datetime | None = None,
    sla_days: int | None = None,
    stale_days: int | None = None,
) -> pd.DataFrame:
    """One row per open order (the backlog only, not the history): its partner, state,
    age since placed and idle time in its state, in days, whether it is deferred; with
    `sla_days` a `past_sla` column and with `stale_days` a `stale` one, flagged by the
    Backlog page's own conditions (a notebook filters on them rather than on the ages,
    which are rounded)."""
    now = now or utcnow()
    partner = Org.__table__.alias("partner")
    flags = {"deferred": is_deferred()}
    if sla_days is not None:
        flags["past_sla"] = is_past_sla(now, sla_days)
    if stale_days is not None:
        flags["stale"] = is_stale(now, stale_days)
    rows = session.execute(
        select(
            Order.order_id,
            Order.state,
            Order.partner_id,
            partner.c.name.label("partner_name"),
            Order.country,
            Order.placed_at,
            Order.state_changed_at,
            Order.at_risk,
            *[condition.label(name) for name, condition in flags.items()],
        )
        .outerjoin(partner, partner.c.org_id == Order.partner_id)
        .where(is_open())
        .order_by(Order.placed_at, Order.order_id)
    ).all()
    frame = pd.DataFrame(
        [row._asdict() for row in rows],
        columns=[
            "order_id",
            "state",
            "partner_id",
            "partner_name",
            "country",
            "placed_at",
            "state_changed_at",
            "at_risk",
            *flags,
        ],
    )
    frame["partner"] = _partner_labels(frame)
    frame["age_days"] = [days_since(now, at) for at in frame["placed_at"]]
    frame["idle_days"] = [days_since(now, at) for at in frame["state_changed_at"]]
    for column in ["at_risk", *flags]:
        frame[column] = frame[column].astype(bool)
    return frame


def _partner_labels(frame: pd.DataFrame) -> list[str]:
    return [
        name if isinstance(name, str) else (pid if isinstance(pid, str) else "direct (no partner)")
        for pid, name in zip(frame["partner_id"], frame["partner_name"], strict=True)
    ]


def partner_backlog(
    session: Session, sla_days: int, stale_days: int, now: datetime | None = None
) -> pd.DataFrame:
    """Per ordering partner (direct orders as one row), in one grouped query: open orders,
    those past the SLA (placed more than `sla_days` ago), at risk, delegated, mapped with
    a service deferred (configure later / customer self-setup), the delegated and
    deferred ones idle for more than `stale_days` (stale: someone must chase them), and
    the oldest open order's age. Most open orders first."""
    now = now or utcnow()
    partner = Org.__table__.alias("partner")
    stale = is_stale(now, stale_days)
    key = partner_key()
    rows = session.execute(
        select(
            key.label("partner_id"),
            partner.c.name.label("partner_name"),
            func.count().label("open"),
            count_where(is_past_sla(now, sla_days)).label("past_sla"),
            count_where(is_at_risk()).label("at_risk"),
            count_where(is_delegated()).label("delegated"),
            count_where(is_deferred()).label("deferred"),
            count_where(and_(stale, is_delegated())).label("stale_delegated"),
            count_where(and_(stale, is_deferred())).label("stale_deferred"),
            func.min(Order.placed_at).label("oldest_placed_at"),
        )
        .outerjoin(partner, partner.c.org_id == Order.partner_id)
        .where(is_open())
        .group_by(key, partner.c.name)
    ).all()
    columns = [
        "partner_id",
        "partner_name",
        "open",
        "past_sla",
        "at_risk",
        "delegated",
        "deferred",
        "stale_delegated",
        "stale_deferred",
        "oldest_placed_at",
    ]
    frame = pd.DataFrame([row._asdict() for row in rows], columns=columns)
    frame["partner_id"] = frame["partner_id"].replace("", None)
    frame["partner"] = _partner_labels(frame)
    for column in columns[2:-1]:
        frame[column] = frame[column].astype(int)
    frame["stale"] = frame["stale_delegated"] + frame["stale_deferred"]
    frame["past_sla_share"] = np.where(frame["open"] > 0, frame["past_sla"] / frame["open"], 0.0)
    frame["oldest_days"] = [days_since(now, at) for at in frame["oldest_placed_at"]]
    return frame.sort_values(["open", "partner"], ascending=[False, True]).reset_index(drop=True)


# --- Model versions -----------------------------------------------------------------


def model_history(session: Session) -> pd.DataFrame:
    """Every change to the scorer versions, oldest first (train, publish, activate,
    rollback): who, when, which version, and what was active before and after."""
    rows = session.execute(
        select(
            AuditEvent.at,
            AuditEvent.actor,
            AuditEvent.action,
            AuditEvent.entity_id,
            AuditEvent.before,
            AuditEvent.after,
        )
        .where(AuditEvent.entity_type == "model_version")
        .order_by(AuditEvent.id)
    ).all()
    return pd.DataFrame(
        [
            {
                "at": at,
                "actor": actor,
                "action": action,
                "version": entity_id,
                "before": before,
                "after": after,
            }
            for at, actor, action, entity_id, before, after in rows
        ],
        columns=["at", "actor", "action", "version", "before", "after"],
    )
