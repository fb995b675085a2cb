"""Domain rules the model may not overrule confidently. They never change the ranking —
the model still ranks — they hold a confident answer back for an operator, with a reason.

Kept few, and each is a rule the seed states or the business cannot afford to break:

- `exact_email`: the provisioning e-mail is a member of an org (not the ordering
  partner's own). Answering anything else may be right — a department, a fresh start —
  but is never done without review.
- `trial_conversion`: the order converts a running trial. Answering "create a new
  organization", or an org that is not a running trial, would lose the customer's trial.
- `live_trial_member`: the contact belongs to a running trial org and the answer is not
  that trial (the customer's own trial, typically named after them, weeks old).

A held-back answer's confidence is at most `GUARDED_CONFIDENCE`: the evidence and the
model disagree, so it is offered to an operator, never applied on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from matching.candidates import Candidate, CandidateSet
from matching.vocabulary import OrgStatus

GUARDED_CONFIDENCE = 0.5


@dataclass(frozen=True, slots=True)
class GuardRail:
    rule: str  # stable key: exact_email, trial_conversion, live_trial_member
    reason: str  # in the operator's words
    org_name: str | None = None  # the org the rule speaks for (exact / trial), if any


def guard_rails(found: CandidateSet, answer: Candidate | None) -> tuple[GuardRail, ...]:
    """The rules `answer` (None: a new org) meets for the order `found`."""
    rails = []
    exact = None
    if found.exact_org_id is not None and not found.partner_own_address:
        exact = next((c for c in found.candidates if c.org_id == found.exact_org_id), None)
    answered = answer.org_id if answer is not None else None
    if exact is not None and answered != exact.org_id:
        rails.append(
            GuardRail(
                "exact_email",
                f"{found.email} is a member of {exact.facts.name}; "
                "an exact e-mail match is not overruled without review",
                exact.facts.name,
            )
        )
    if found.order.converts_trial and (answer is None or answer.facts.status != OrgStatus.TRIAL):
        rails.append(
            GuardRail(
                "trial_conversion",
                "the order converts a running trial, and the answer is not a running trial",
            )
        )
    if exact is not None and exact.facts.status == OrgStatus.TRIAL and answered != exact.org_id:
        rails.append(
            GuardRail(
                "live_trial_member",
                f"{found.email} belongs to the running trial {exact.facts.name}; "
                "the customer's trial would be lost",
                exact.facts.name,
            )
        )
    return tuple(rails)
