"""`resolved_at_precision`: how many orders a threshold could leave to the finder at a
target precision, on crafted predictions whose answer is known exactly."""

from __future__ import annotations

import pytest

from matching.evaluation import Prediction, resolved_at_precision

TARGET = 0.995


def right(confidence: float, n: int = 1) -> list[Prediction]:
    return [Prediction("org-1", "org-1", ("org-1",), confidence) for _ in range(n)]


def wrong(confidence: float, n: int = 1) -> list[Prediction]:
    return [Prediction("org-1", None, (), confidence) for _ in range(n)]


def test_a_confident_error_is_outweighed_when_enough_right_answers_follow() -> None:
    # The threshold 0.99 covers all 1,001 orders: 1000/1001 = 0.999 right.
    assert resolved_at_precision(wrong(1.0) + right(0.99, 1000), TARGET) == 1.0


def test_a_confident_error_leaves_nothing_when_too_few_right_answers_follow() -> None:
    # 100/101 = 0.990 < 0.995, and the threshold 1.0 alone covers only the error.
    assert resolved_at_precision(wrong(1.0) + right(0.99, 100), TARGET) == 0.0


def test_the_largest_covering_threshold_wins_and_lower_errors_stop_it() -> None:
    # At 0.9: 999/1000 right; at 0.5: 999/1010 = 0.989 — so 1000 of 1010 orders.
    predictions = right(0.9, 999) + wrong(1.0) + wrong(0.5, 10)
    assert resolved_at_precision(predictions, TARGET) == pytest.approx(1000 / 1010)


def test_orders_of_equal_confidence_are_not_split() -> None:
    # 300 right at 0.95, then 97 right and 3 wrong at 0.9: 397/400 = 0.9925 < 0.995.
    # Splitting the tie (right ones first) would claim 397 orders; no threshold can.
    predictions = right(0.95, 300) + wrong(0.9, 3) + right(0.9, 97)
    assert resolved_at_precision(predictions, TARGET) == 0.75


def test_precision_exactly_at_the_target_counts() -> None:
    assert resolved_at_precision(right(0.9, 199) + wrong(0.9), TARGET) == 1.0


def test_no_orders_or_only_errors_resolve_nothing() -> None:
    assert resolved_at_precision([], TARGET) == 0.0
    assert resolved_at_precision(wrong(0.99, 5), TARGET) == 0.0


def test_the_benchmark_refuses_families_the_shipped_model_was_trained_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from benchmarks import matching_quality

    monkeypatch.setattr(matching_quality, "shipped_families", lambda: [90, 102])
    with pytest.raises(RuntimeError, match=r"families \[102\].*not held out"):
        matching_quality.run(families=2, scored=10)
