"""How familiar an answer is: has the model seen orders whose right answer looked like it?

A linear scorer extrapolates without blinking: an answer on evidence no training order
had ("create a new organization" although the contact is a member of a running trial)
can come out at 99.9%. The evidence pattern is the coarse shape of an answer — what the
e-mail is, how the answer relates to it, its status, whether it had rivals — and the
model keeps, per pattern, how many training orders had a right answer of that shape.

A pattern seen `n` times, every time right, promises at most (n + 1) / (n + 2) (Laplace's
rule of succession): never seen, a coin toss; seen 200 times, 99.5%.
"""

from __future__ import annotations

from matching.candidates import Candidate, CandidateSet, Source
from matching.vocabulary import OrgStatus


def evidence_pattern(found: CandidateSet, answer: Candidate | None) -> str:
    """The shape of `answer` (None: a new org) for the order `found`, as a stable key."""
    if found.free_mail:
        mail = "free"
    elif found.partner_own_address:
        mail = "partner"
    else:
        mail = "company"
    if found.exact_org_id is None or found.partner_own_address:
        exact = "none"
    elif answer is not None and answer.org_id == found.exact_org_id:
        exact = "answer"
    else:
        exact = "other"
    parts = [f"mail={mail}", f"exact={exact}", f"converts={int(found.order.converts_trial)}"]
    if answer is None:
        parts.append("answer=new")
        parts.append(f"candidates={min(len(found.candidates), 2)}")
    else:
        status = answer.best_domain_status
        domain = status.value if status else "members" if answer.members_on_domain else "none"
        how = "name" if answer.sources == {Source.NAME} else "evidence"
        trial = answer.facts.status if answer.facts.status in tuple(OrgStatus) else "other"
        parts += [
            "answer=org",
            f"domain={domain}",
            f"status={trial}",
            f"found={how}",
            f"rivals={min(len(found.candidates) - 1, 2)}",
        ]
    return "|".join(parts)


def familiarity_cap(support: int) -> float:
    """The most an answer of a pattern seen `support` times in training can promise."""
    return (support + 1) / (support + 2)
