"""`onboard match`, `onboard train`, `onboard evaluate`, `onboard models …`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from matching.matcher import MatchResult
from matching.scorer import Thresholds
from provisioning import finder
from provisioning.access import Actor, Permission, authorize
from provisioning.cli.app import (
    CliContext,
    actor_option,
    cli,
    file_path,
    format_option,
    handle_errors,
    pass_ctx,
    resolve_actor,
)
from provisioning.cli.output import emit_object, emit_rows, to_json
from provisioning.errors import FieldError, InvalidInput
from provisioning.models.base import utcnow

_CANDIDATE_COLUMNS = ["rank", "org_id", "name", "score", "evidence"]


def _thresholds(auto: float | None, review: float | None) -> Thresholds | None:
    if auto is None and review is None:
        return None
    defaults = Thresholds()
    try:
        return Thresholds(
            auto=defaults.auto if auto is None else auto,
            review=defaults.review if review is None else review,
        )
    except ValueError as exc:
        raise InvalidInput(FieldError("--auto/--review", str(exc))) from None


def _threshold_options(func: Any) -> Any:
    func = click.option("--review", type=float, help="Below this confidence: operator decides.")(
        func
    )
    return click.option("--auto", type=float, help="At or above this: recommended automatically.")(
        func
    )


@cli.command("match")
@click.option("--order", "order_id", metavar="ID", help="One order awaiting its org.")
@click.option("--all", "all_orders", is_flag=True, help="Every order awaiting its org.")
@click.option(
    "--save",
    is_flag=True,
    help="Also keep the answers for the operators' queue (an account that may score "
    "waiting orders: --actor).",
)
@actor_option
@format_option("table", "json", "jsonl")
@pass_ctx
@handle_errors
def match_command(
    ctx: CliContext,
    order_id: str | None,
    all_orders: bool,
    save: bool,
    actor: str | None,
    fmt: str,
) -> None:
    """Rank the candidate orgs of orders awaiting an org (decided orders are not listed).

    JSON keys: order_id, outcome (exact/domain/none), recommended_org_id (null = create a
    new organization), confidence, candidates (best first, at most 10: org_id, name,
    score, evidence, reasons).
    """
    if bool(order_id) == all_orders:
        raise InvalidInput(FieldError("--order/--all", "give exactly one of them"))
    scorer = authorize(resolve_actor(ctx, actor), Permission.RUN_FINDER) if save else None
    now = utcnow()
    results = (
        [finder.match_one(ctx.db, order_id, now)] if order_id else finder.match_all(ctx.db, now)
    )
    if scorer is not None:
        results = _saving(ctx, results, now, scorer)
    if fmt == "jsonl":
        for result in results:
            click.echo(to_json(result.to_dict()))
        return
    if fmt == "json":
        payload = [r.to_dict() for r in results]
        emit_object(payload[0] if order_id else {"orders": payload}, fmt)
        return
    for result in results:
        data = result.to_dict()
        recommended = data["recommended_org_id"] or "create a new organization"
        click.echo(
            f"{data['order_id']}: {data['outcome']} → {recommended} "
            f"(confidence {data['confidence']:.2f}, {data['review']})"
        )
        if data["why_first"]:
            click.echo(f"  {data['why_first']}")
        for doubt in data["doubts"]:
            held = "held back" if doubt["kind"] == "guard_rail" else "confidence lowered"
            click.echo(f"  {held}: {doubt['reason']}")
        rows = [
            {
                "rank": i + 1,
                "org_id": c["org_id"],
                "name": c["name"],
                "score": c["score"],
                "evidence": "; ".join(c["evidence"]),
            }
            for i, c in enumerate(data["candidates"])
        ]
        emit_rows(rows, fmt, _CANDIDATE_COLUMNS)
        click.echo()


def _saving(
    ctx: CliContext, results: Iterable[MatchResult], now: datetime, actor: Actor
) -> Iterator[MatchResult]:
    """Pass the answers through to the output, storing them in batches as they go."""
    from provisioning.finder.answers import store_matches

    with ctx.db.read() as session:
        version = str(finder.active_model(session).version)
    batch: list[MatchResult] = []
    for result in results:
        batch.append(result)
        yield result
        if len(batch) == finder.MATCH_BATCH:
            store_matches(ctx.db, batch, version, now, actor=actor)
            batch = []
    store_matches(ctx.db, batch, version, now, actor=actor)


@cli.command("train")
@click.option(
    "--c",
    "c",
    type=click.FloatRange(min=1e-4),
    default=1.0,
    show_default=True,
    help="Inverse regularisation strength of the logistic regression.",
)
@_threshold_options
@click.option("--force", is_flag=True, help="Activate even if it is worse than the active one.")
@actor_option
@format_option("table", "json")
@pass_ctx
@handle_errors
def train_command(
    ctx: CliContext,
    c: float,
    auto: float | None,
    review: float | None,
    force: bool,
    actor: str | None,
    fmt: str,
) -> None:
    """Fit a scorer version on every decided order and store it.

    Evaluated on a held-out split grouped by order; activated only if it is not worse
    than the active version on the same held-out orders (--force overrides).
    """
    report = finder.train(ctx.db, resolve_actor(ctx, actor), c, _thresholds(auto, review), force)
    payload = {
        "version": report.version,
        "activated": report.activated,
        "train_orders": report.result.train_orders,
        "test_orders": report.result.test_orders,
        "held_out": report.result.metrics,
        "in_sample": report.result.in_sample,
        "thresholds_effect": report.result.thresholds_effect,
        "previous_on_held_out": report.previous,
        "baselines_on_held_out": report.baselines,
    }
    if fmt == "json":
        emit_object(payload, fmt)
        return
    if report.activated:
        state = "activated"
    elif report.result.in_sample:
        state = (
            f"stored, NOT activated: {report.result.train_orders} decided orders are too few "
            "for a held-out evaluation (metrics below are in-sample; --force activates)"
        )
    else:
        state = "stored, NOT activated: worse than the active version (--force activates)"
    click.echo(f"model version {report.version}: {state}")
    fitted = "in-sample" if report.result.in_sample else "held-out"
    _metric_table(
        {fitted: report.result.metrics, "active before": report.previous or {}, **report.baselines}
    )


@cli.command("evaluate")
@click.option("--version", type=int, help="Model version (default: the active one).")
@_threshold_options
@format_option("table", "json")
@pass_ctx
@handle_errors
def evaluate_command(
    ctx: CliContext, version: int | None, auto: float | None, review: float | None, fmt: str
) -> None:
    """Score a model version on every decided order, beside the two hand rules, and show
    what the --auto/--review thresholds would do before they are saved.

    Also how its confident answers did in production, on the decisions operators made
    since it was activated (JSON key in_production: version, since, decided, auto_orders,
    right, precision, low/high of a 90% interval, target, status too_few / on_target /
    below_target, share_auto, share_confirm, share_operator), flagged when below target.
    """
    report = finder.evaluate(ctx.db, version, _thresholds(auto, review))
    if fmt == "json":
        emit_object(report, fmt)
        return
    click.echo(f"model version {report['version']} on {report['orders']} decided orders")
    _metric_table(report["metrics"])
    click.echo(f"\nthresholds {report['thresholds']}: {to_json(report['thresholds_effect'])}")
    emit_rows(report["coverage"], fmt, ["threshold", "coverage", "accuracy"])
    _risk_control(report["risk_control"])
    _in_production(report["in_production"])


def _risk_control(control: dict[str, Any] | None) -> None:
    """What the auto threshold promises, and on what evidence it was chosen."""
    if control is None:
        click.echo("\nauto threshold: set by hand (no risk control)")
        return
    if control["auto"] is None:
        click.echo(
            f"\nauto threshold: none can promise {_pct(control['target'])} precision with "
            f"{control['certainty']:.0%} certainty on {control['calibration_orders']} held-out "
            "orders: nothing is applied automatically"
        )
        return
    click.echo(
        f"\nauto threshold {control['auto']}: answers at or above it are right at least "
        f"{_pct(control['target'])} of the time with {control['certainty']:.0%} certainty "
        f"(conformal risk control on {control['calibration_orders']} held-out orders, "
        f"{_pct(control['auto_share'])} of them above it, {_pct(control['auto_precision'])} "
        "right)"
    )


def _in_production(watch: dict[str, Any]) -> None:
    """How the confident band did on the decisions since activation, and the flag."""
    since = f"since {watch['since'][:10]}" if watch["since"] else "since the first decision"
    click.echo(f"\nin production (version {watch['version']}, decisions {since}):")
    if not watch["decided"]:
        click.echo("  no decided order recorded this version's answer yet")
        return
    click.echo(
        f"  {watch['decided']} decided orders: {_pct(watch['share_auto'])} confident "
        f"({watch['auto_orders']}), {_pct(watch['share_confirm'])} offered for confirmation, "
        f"{_pct(watch['share_operator'])} left to an operator"
    )
    if watch["auto_orders"]:
        click.echo(
            f"  confident answers: {watch['right']} of {watch['auto_orders']} agreed with the "
            f"decision, precision {_pct(watch['precision'])} "
            f"({watch['interval']:.0%} interval {_pct(watch['low'])}-{_pct(watch['high'])}), "
            f"target {_pct(watch['target'])}"
        )
    if watch["status"] == "too_few":
        click.echo(
            f"  too few confident answers decided to judge the band "
            f"({watch['auto_orders']} of the {watch['min_auto_orders']} needed)"
        )
    elif watch["status"] == "below_target":
        click.echo(
            f"  WARNING: the confident band is below its {_pct(watch['target'])} target: "
            "review its answers; train a version with a higher --auto threshold or more "
            "history (onboard train)"
        )
    else:
        click.echo("  on target: the decisions are consistent with the target")


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share:.1%}"


def _metric_table(columns: dict[str, dict[str, float]]) -> None:
    names = list(next(iter(columns.values())))
    rows = [{"metric": n, **{k: v.get(n) for k, v in columns.items()}} for n in names]
    emit_rows(rows, "table", ["metric", *columns])


@cli.group("models")
def models_group() -> None:
    """Scorer versions: list them, choose the active one."""


@models_group.command("list")
@format_option("table", "json")
@pass_ctx
@handle_errors
def models_list(ctx: CliContext, fmt: str) -> None:
    """Every stored version, its held-out accuracy and thresholds."""
    rows = finder.list_models(ctx.db)
    emit_rows(rows, fmt, ["version", "created_at", "created_by", "active", "accuracy"])


@models_group.command("activate")
@click.argument("version", type=int)
@actor_option
@pass_ctx
@handle_errors
def models_activate(ctx: CliContext, version: int, actor: str | None) -> None:
    """Make VERSION the model the app and `onboard match` use."""
    changed = finder.activate(ctx.db, version, resolve_actor(ctx, actor))
    click.echo(f"model version {version} {'activated' if changed else 'was already active'}")


@models_group.command("build-default")
@click.option(
    "--out",
    type=file_path(file_okay=False),
    default=None,
    help="Where to write default.skops/default.json (default: matching/models).",
)
@handle_errors
def models_build_default(out: Path | None) -> None:
    """Maintainers: retrain the model that ships with the project on families of
    generated worlds (a few minutes)."""
    from provisioning.finder.shipped import MODELS_DIR, build_default

    result = build_default(out or MODELS_DIR)
    control = result.fitted.risk_control
    click.echo(f"default model written to {out or MODELS_DIR}: {to_json(result.held_out)}")
    if control is not None:
        click.echo(f"risk control: {to_json(control.to_dict())}")
