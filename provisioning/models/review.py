"""What the finder said about waiting orders, and what operators said without seeing it.

`OrderMatch` keeps the latest ranking summary of each order awaiting its org, so the
queue can put ambiguous matches first without ranking thousands of orders per page view.
`BlindReview` keeps an operator's pick made before seeing the model's, the unbiased
measure of both.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from provisioning.models.base import Base, utcnow


class OrderMatch(Base):
    __tablename__ = "order_matches"

    order_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True
    )
    model_version: Mapped[str] = mapped_column(String(16))  # a version number or "default"
    outcome: Mapped[str] = mapped_column(String(8))
    recommended_org_id: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    p_new_org: Mapped[float] = mapped_column(Float)
    review: Mapped[str] = mapped_column(String(16))  # auto / confirm / operator
    candidates: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index(None, "review"),)


class BlindReview(Base):
    __tablename__ = "blind_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orders.order_id", ondelete="CASCADE")
    )
    reviewer: Mapped[str] = mapped_column(String(320))
    chosen_org_id: Mapped[str | None] = mapped_column(String(64))  # None: a new org
    model_org_id: Mapped[str | None] = mapped_column(String(64))  # None: the model said new
    model_version: Mapped[str] = mapped_column(String(16))
    model_confidence: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("order_id", "reviewer"), Index(None, "created_at"))
