"""`onboard orders …`: the provisioning workflow from the command line.

The command names and options below are a contract operators script against (add, never
rename). Each command calls one service function; every mutating one takes `--actor`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from provisioning import orders
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
from provisioning.cli.output import emit_object, emit_rows, write_file
from provisioning.errors import FieldError, InvalidInput
from provisioning.orders import ActionResult, listing
from provisioning.rules import parse_site_option
from provisioning.states import Intent, OrderState

_LIST_COLUMNS = ["order_id", "placed_at", "state", "company_name", "provisioning_email", "org_id"]


@cli.group("orders")
def orders_group() -> None:
    """Orders: who they are for, their organization, and their services' setup."""


def _done(result: ActionResult, fmt: str = "table") -> None:
    if fmt == "json":
        emit_object(result.to_dict(), fmt)
        return
    verb = result.action.removeprefix("order.").replace("_", " ")
    if result.changed:
        extra = f" ({result.detail})" if result.detail else ""
        click.echo(f"{result.order_id}: {verb} done{extra}; order is {result.state}")
    else:
        click.echo(f"{result.order_id}: {verb} was already done; nothing changed")


def _action(name: str, help_text: str) -> Callable[[Callable[..., Any]], Any]:
    """A mutating order command: ORDER argument, --actor, --format, errors to exit codes."""

    def decorate(func: Callable[..., Any]) -> Any:
        func = handle_errors(func)
        func = pass_ctx(func)
        func = format_option("table", "json")(func)
        func = actor_option(func)
        func = click.argument("order_id", metavar="ORDER")(func)
        func.__doc__ = help_text
        return orders_group.command(name)(func)

    return decorate


@orders_group.command("list")
@click.option(
    "--state",
    type=click.Choice([s.value for s in OrderState]),
    help="Only orders in this state.",
)
@click.option("--limit", type=click.IntRange(min=1), default=500, show_default=True)
@format_option("table", "json", "jsonl")
@pass_ctx
@handle_errors
def orders_list(ctx: CliContext, state: str | None, limit: int, fmt: str) -> None:
    """Orders newest first, with their state and organization."""
    with ctx.db.read() as session:
        rows = listing.list_orders(session, state=state, limit=limit)
    emit_rows(
        ({name: getattr(row, name) for name in row.__slots__} for row in rows), fmt, _LIST_COLUMNS
    )


@orders_group.command("show")
@click.argument("order_id", metavar="ORDER")
@format_option("table", "json")
@pass_ctx
@handle_errors
def orders_show(ctx: CliContext, order_id: str, fmt: str) -> None:
    """One order: its licences per service (trial conversions, add-ons), organization,
    each service's setup, its deadline and the next step."""
    with ctx.db.read() as session:
        detail = orders.order_detail(session, order_id, ctx.settings.setup_deadline_days)
    if fmt == "json":
        emit_object(detail, fmt)
        return
    services = detail.pop("services")
    lines = detail.pop("lines")
    emit_object({k: v for k, v in detail.items() if v not in (None, "")}, fmt)
    click.echo("\nlicence changes:")
    emit_rows(lines, fmt, ["service", "licences", "trial_conversion", "addon"])
    for name, service in services.items():
        click.echo(f"\n{name}: {service['state']} ({service['licences']} licences)")
        if service.get("sites"):
            emit_rows(service["sites"], fmt, ["name", "licences", "timezone", "early_release"])
        if service.get("location"):
            emit_object(service["location"], fmt)


@_action("intent", "State who ORDER is for: customer, own-company or delegate (--email).")
@click.argument("intent", type=click.Choice([i.value for i in Intent]))
@click.option("--email", metavar="ADDR", help="With delegate: who completes the order.")
def orders_intent(
    ctx: CliContext, order_id: str, intent: str, email: str | None, actor: str | None, fmt: str
) -> None:
    _done(orders.set_intent(ctx.db, order_id, intent, resolve_actor(ctx, actor), email), fmt)


@_action("map", "Map ORDER to an existing organization (waits for approval where needed).")
@click.option("--org", "org_id", required=True, metavar="ORG_ID", help="The organization.")
def orders_map(ctx: CliContext, order_id: str, org_id: str, actor: str | None, fmt: str) -> None:
    _done(orders.map_org(ctx.db, order_id, org_id, resolve_actor(ctx, actor)), fmt)


@_action("create-org", "Create a new organization for ORDER and map the order to it.")
@click.option("--name", required=True, help="Company name.")
@click.option("--industry", required=True, help="Industry vertical (fixed list).")
@click.option("--country", required=True, metavar="CC", help="ISO 3166 country code.")
def orders_create_org(
    ctx: CliContext,
    order_id: str,
    name: str,
    industry: str,
    country: str,
    actor: str | None,
    fmt: str,
) -> None:
    result = orders.create_org(ctx.db, order_id, name, industry, country, resolve_actor(ctx, actor))
    _done(result, fmt)


@_action("approve", "Record that the org administrator approved ORDER joining their org.")
def orders_approve(ctx: CliContext, order_id: str, actor: str | None, fmt: str) -> None:
    _done(orders.answer_approval(ctx.db, order_id, True, resolve_actor(ctx, actor)), fmt)


@_action("decline", "Record that the org administrator declined: ORDER needs another org.")
@click.option("--reason", help="What the administrator said.")
def orders_decline(
    ctx: CliContext, order_id: str, reason: str | None, actor: str | None, fmt: str
) -> None:
    result = orders.answer_approval(ctx.db, order_id, False, resolve_actor(ctx, actor), reason)
    _done(result, fmt)


@_action("unmap", "Reverse ORDER's mapping (audited); refused once services are set up.")
@click.option("--reason", required=True, help="Why the mapping is reversed.")
def orders_unmap(ctx: CliContext, order_id: str, reason: str, actor: str | None, fmt: str) -> None:
    _done(orders.unmap(ctx.db, order_id, reason, resolve_actor(ctx, actor)), fmt)


@_action("set-email", "Correct ORDER's provisioning e-mail (before mapping) and re-send.")
@click.option("--email", required=True, metavar="ADDR", help="The right address.")
def orders_set_email(
    ctx: CliContext, order_id: str, email: str, actor: str | None, fmt: str
) -> None:
    _done(orders.correct_email(ctx.db, order_id, email, resolve_actor(ctx, actor)), fmt)


@_action("resend-welcome", "Queue ORDER's welcome e-mail again (before mapping).")
def orders_resend_welcome(ctx: CliContext, order_id: str, actor: str | None, fmt: str) -> None:
    _done(orders.resend_welcome(ctx.db, order_id, resolve_actor(ctx, actor)), fmt)


@_action("self-setup", "My customer will set up their own services: e-mail their admin.")
@click.option("--admin-email", required=True, metavar="ADDR", help="The customer's admin.")
def orders_self_setup(
    ctx: CliContext, order_id: str, admin_email: str, actor: str | None, fmt: str
) -> None:
    result = orders.hand_to_customer(ctx.db, order_id, admin_email, resolve_actor(ctx, actor))
    _done(result, fmt)


@_action("meetings", "Set up ORDER's Meetings sites, its licences split across them.")
@click.option(
    "--site",
    "sites",
    multiple=True,
    required=True,
    metavar="NAME:LICENCES",
    help="A site URL name and its licences; repeat for additional sites.",
)
@click.option("--timezone", required=True, metavar="TZ", help="IANA time zone.")
@click.option("--early-release", is_flag=True, help="Follow the early-release schedule.")
@click.option(
    "--users-managed-in",
    type=click.Choice(["control_hub", "site_admin"]),
    default="control_hub",
    show_default=True,
    help="Where the sites' users are managed.",
)
def orders_meetings(
    ctx: CliContext,
    order_id: str,
    sites: tuple[str, ...],
    timezone: str,
    early_release: bool,
    users_managed_in: str,
    actor: str | None,
    fmt: str,
) -> None:
    parsed = []
    errors: list[FieldError] = []
    for text in sites:
        try:
            parsed.append(parse_site_option(text))
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if errors:
        raise InvalidInput(errors)
    result = orders.set_up_meetings(
        ctx.db,
        order_id,
        parsed,
        timezone,
        resolve_actor(ctx, actor),
        early_release=early_release,
        users_managed_in=users_managed_in,
    )
    _done(result, fmt)


@_action("calling", "Set up ORDER's main Calling location.")
@click.option("--location", "name", required=True, help="Location name (at most 80 characters).")
@click.option("--country", required=True, metavar="CC", help="Country or region (ISO code).")
@click.option("--timezone", metavar="TZ", help="IANA time zone (default: the country's).")
@click.option("--address1", "address_line1", default="", help="Address line 1.")
@click.option("--address2", "address_line2", help="Address line 2.")
@click.option("--city", default="", help="City.")
@click.option("--postal-code", default="", help="Postal code.")
@click.option("--state", "state_code", help="State or province, where the country has them.")
@click.option("--language", "preferred_language", help="Preferred language, e.g. sv_se.")
@click.option("--announcement-language", help="Announcement language, e.g. sv_se.")
@click.option("--sip-address", help="SIP address (default: from the company name).")
def orders_calling(
    ctx: CliContext, order_id: str, actor: str | None, fmt: str, **location: Any
) -> None:
    result = orders.set_up_calling(ctx.db, order_id, resolve_actor(ctx, actor), **location)
    _done(result, fmt)


@_action("later", "Configure SERVICE of ORDER later: it stays not provisioned.")
@click.argument("service", type=click.Choice(["meetings", "calling"]))
def orders_later(ctx: CliContext, order_id: str, service: str, actor: str | None, fmt: str) -> None:
    _done(orders.configure_later(ctx.db, order_id, service, resolve_actor(ctx, actor)), fmt)


@orders_group.command("summary")
@click.argument("order_id", metavar="ORDER")
@click.option(
    "--pdf",
    "pdf_path",
    required=True,
    type=file_path(dir_okay=False, writable=True),
    help="Where to write the order summary PDF.",
)
@click.option("--lang", type=click.Choice(["en", "sv"]), default="en", show_default=True)
@pass_ctx
@handle_errors
def orders_summary(ctx: CliContext, order_id: str, pdf_path: Path, lang: str) -> None:
    """Write ORDER's summary as a PDF a customer can keep, in English or Swedish."""
    from provisioning.orders.summary_pdf import render_summary

    with ctx.db.read() as session:
        summary = orders.load_summary(session, order_id)
    write_file(pdf_path, render_summary(summary, lang), "--pdf")
    click.echo(f"order summary of {order_id} written to {pdf_path}")


@orders_group.command("check-site")
@click.argument("name")
@click.option("--company", help="Company name the suggestions are made from.")
@format_option("table", "json")
@pass_ctx
@handle_errors
def orders_check_site(ctx: CliContext, name: str, company: str | None, fmt: str) -> None:
    """Is NAME a valid, free Meetings site URL name? If not, free suggestions.

    Exit code 0: free; 1: valid but taken; 2: not a valid site name (like any refused
    input), so a script can tell them apart without parsing the output."""
    answer = orders.check_site_name_available(ctx.db, name, company)
    if fmt == "json":
        emit_object(answer, fmt)
    elif answer["free"]:
        click.echo(f"{answer['name']}: free")
    else:
        click.echo(f"{answer['name']}: {'; '.join(answer['reasons'])}")
        if answer["suggestions"]:
            click.echo(f"free names: {', '.join(answer['suggestions'])}")
    if not answer["free"]:
        sys.exit(1 if answer["valid"] else 2)


@orders_group.command("deadlines")
@format_option("table", "json")
@pass_ctx
@handle_errors
def orders_deadlines(ctx: CliContext, fmt: str) -> None:
    """Send reminders, flag orders at risk and expire those past their deadline
    (ONBOARD_SETUP_DEADLINE_DAYS, ONBOARD_REMINDER_DAYS, ONBOARD_AT_RISK_DAYS)."""
    report = orders.sweep(ctx.db, orders.DeadlinePolicy.from_settings(ctx.settings))
    if fmt == "json":
        emit_object(report.to_dict(), fmt)
        return
    for name, ids in report.to_dict().items():
        click.echo(f"{name}: {len(ids)}" + (f" ({', '.join(ids[:20])})" if ids else ""))
