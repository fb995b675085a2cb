"""Properties of the `onboard` command line over arbitrary option values.

Whatever an operator types, a command either does its job (exit 0) or refuses (exit 2),
never exit 1 or a traceback; a refusal names the option or field it is about; and after
a refusal the database holds exactly what it held before: no audit event, no order
state change, no site, location or e-mail queued.

Each example acts on an order of its own, brought through the workflow to the state the
command expects, so what one example did (a site name taken, an org created) can make a
later one refuse but never crash, and "nothing changed" is about this command alone.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from provisioning import orders
from provisioning.access import Actor, accounts
from provisioning.cli import cli
from provisioning.db import Database
from provisioning.models import AuditEvent, Order, OrderService, Org
from provisioning.models.base import Base
from provisioning.rules import CALLING_LANGUAGES, INDUSTRY_VERTICALS
from provisioning.states import Intent
from tests.conftest import FIXTURES

pytestmark = pytest.mark.db

# The operator every command acts as (`--actor`), and the admin who added that account.
ACTOR = "ops@example.com"
ADMIN = "admin@example.com"
MEETINGS_LICENCES = 100
CALLING_LICENCES = 20
BATCH = 25  # fresh orders imported at a time

CLI_EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# What a shell can pass: any text but NUL (argv entries are C strings), lone surrogates
# included (what Python makes of bytes a terminal sent that are not UTF-8).
typed = st.text(st.characters(exclude_characters="\x00"), max_size=40)
maybe_typed = st.one_of(st.none(), typed)
emails = st.one_of(
    st.sampled_from(
        ["it@nordvik.se", "IT@Nordvik.SE", "it@", "@nordvik.se", "it @nordvik.se", "it@localhost"]
    ),
    typed,
)
zones = st.one_of(st.sampled_from(["Europe/Stockholm", "UTC", "CET", "Mars/Olympus"]), typed)


# --- a desk with orders to act on -------------------------------------------------------


@dataclass
class Desk:
    """A migrated database with the mini dataset, an operator account, and a supply of
    fresh orders (placed by the partner org-fjord, Meetings and Calling licences)."""

    url: str
    db: Database
    workdir: Path
    runner: CliRunner = field(default_factory=CliRunner, repr=False)
    unused: list[str] = field(default_factory=list, repr=False)
    batches: int = 0

    def run(self, *args: str) -> Result:
        return self.runner.invoke(cli, ["--db", self.url, *args])

    def act(self, group: str, command: str, *rest: str) -> Result:
        """`onboard GROUP COMMAND --actor ACTOR REST…` (options before a `--` in REST)."""
        return self.run(group, command, "--actor", ACTOR, *rest)

    def order(self, state: str = "awaiting_intent") -> str:
        """A fresh order in `state`: awaiting_intent, awaiting_org or org_mapped.

        Brought there by the service layer, not the CLI: each command run opens and
        checks the database anew, which would triple the cost of an example."""
        if not self.unused:
            self._import_batch()
        order_id = self.unused.pop()
        if state in ("awaiting_org", "org_mapped"):
            orders.set_intent(self.db, order_id, "customer", self._actor())
        if state == "org_mapped":
            orders.map_org(self.db, order_id, "org-acme", self._actor())  # org-fjord's
        return order_id

    def _actor(self) -> Actor:
        return accounts.actor_for(self.db, ACTOR)

    def _import_batch(self) -> None:
        self.batches += 1
        ids = [f"ORD-P{self.batches:03d}{n:03d}" for n in range(BATCH)]
        directory = self.workdir / f"batch-{self.batches}"
        directory.mkdir()
        headers = {
            "orgs.csv": ["org_id", "name", "country", "industry", "created_at", "status"],
            "domains.csv": ["org_id", "domain", "status"],
            "users.csv": ["org_id", "email", "status"],
        }
        for name, header in headers.items():
            _write(directory / name, [header])
        _write(
            directory / "orders.csv",
            [["order_id", "placed_at", "partner_id", "provisioning_email", "company_name"]]
            + [
                [oid, "2026-11-20T10:00:00Z", "org-fjord", f"{oid}@fjordcollab.no", "Acme Nord"]
                for oid in ids
            ],
        )
        _write(
            directory / "order_lines.csv",
            [["order_id", "service", "quantity"]]
            + [[oid, "meetings", str(MEETINGS_LICENCES)] for oid in ids]
            + [[oid, "calling", str(CALLING_LICENCES)] for oid in ids],
        )
        result = self.run("import", "--actor", ACTOR, str(directory))
        assert result.exit_code == 0, result.output
        self.unused.extend(reversed(ids))


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


@pytest.fixture(scope="module")
def desk(module_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """One desk per backend for the whole module (a schema costs a second; every example
    brings its own order, so what the others did cannot stand in its way)."""
    workdir = tmp_path_factory.mktemp("desk")
    with pytest.MonkeyPatch.context() as environment:
        environment.delenv("ONBOARD_ACTOR", raising=False)  # every command names its actor
        desk = Desk(module_db.url, module_db, workdir)
        for args in (
            ("import", str(FIXTURES / "mini"), "--actor", ADMIN),
            ("users", "add", ADMIN, "--role", "admin", "--sso"),  # the bootstrap admin
            ("users", "add", ACTOR, "--role", "operator", "--sso", "--actor", ADMIN),
        ):
            result = desk.run(*args)
            assert result.exit_code == 0, result.output
        yield desk


# --- what every command must do ---------------------------------------------------------


_COUNTS = select(
    *(
        select(func.count()).select_from(table).scalar_subquery().label(table.name)
        for table in Base.metadata.sorted_tables
    )
)


def database_state(db: Database, order_id: str | None = None) -> list[object]:
    """How many rows every table has (audit events, sites, locations, the outbox, orgs:
    anything written adds one), and the acted-on order's own rows (what an action
    updates). One query for all the counts: this runs twice per example."""
    with db.engine.connect() as conn:
        state: list[object] = [conn.execute(_COUNTS).one()._asdict()]
        if order_id is not None:
            for table in (Order.__table__, OrderService.__table__):
                state.append(conn.execute(select(table).where(table.c.order_id == order_id)).all())
    return state


_QUOTED = re.compile(r"'([^']+)'")
_NUMBERED = re.compile(r"\[\d+\]")


def named_fields(stderr: str) -> set[str]:
    """What a refusal names: the fields of `InvalidInput` ("  field: reason" lines, with
    "site[2].name" read as "site.name"), or the parameters click quotes in a usage error."""
    if stderr.startswith(("Error: ", "Usage: ")):
        # "Error: Invalid value for '--org': …", "Error: Missing option '--site'."
        errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
        quoted = _QUOTED.search(errors[-1]) if errors else None
        return {quoted.group(1)} if quoted else set()
    lines = [line for line in stderr.splitlines() if line.startswith("  ")]
    return {_NUMBERED.sub("", line.strip().partition(": ")[0]) for line in lines}


def assert_did_its_job_or_refused_cleanly(
    desk: Desk, order_id: str, args: tuple[str, ...], allowed: set[str]
) -> Result:
    """Run `onboard ARGS` on ORDER: exit 0, or exit 2 naming only fields of `allowed` and
    leaving the database as it was."""
    before = database_state(desk.db, order_id)
    result = desk.act(*args)
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    if result.exit_code == 0:
        event("done")
        return result
    event("refused")
    named = named_fields(result.stderr)
    assert named, result.stderr  # something is named ...
    assert named <= allowed, (named, result.stderr)  # ... and it is this command's
    assert database_state(desk.db, order_id) == before, result.stderr
    return result


# --- the commands -----------------------------------------------------------------------


@CLI_EXAMPLES
@given(
    intent=st.one_of(st.sampled_from([i.value for i in Intent]), typed),
    email=st.one_of(st.none(), emails),
)
def test_intent(desk: Desk, intent: str, email: str | None) -> None:
    email_option = ("--email", email) if email is not None else ()
    order_id = desk.order()
    args = ("orders", "intent", *email_option, "--", order_id, intent)
    allowed = {"intent", "INTENT", "{customer|own-company|delegate}", "email", "--email"}
    assert_did_its_job_or_refused_cleanly(desk, order_id, args, allowed)


@CLI_EXAMPLES
@given(org=st.one_of(st.sampled_from(["org-acme", "org-fjord", "org-nordvik", "org-x"]), typed))
def test_map(desk: Desk, org: str) -> None:
    order_id = desk.order("awaiting_org")
    args = ("orders", "map", order_id, "--org", org)
    assert_did_its_job_or_refused_cleanly(desk, order_id, args, {"org", "--org"})


@CLI_EXAMPLES
@given(
    name=st.one_of(st.just("Acme Nord AB"), st.just("龍" * 255), typed),
    industry=st.one_of(st.sampled_from(INDUSTRY_VERTICALS), typed),
    country=st.one_of(st.sampled_from(["SE", "se", "SWE", "XX"]), typed),
)
def test_create_org(desk: Desk, name: str, industry: str, country: str) -> None:
    order_id = desk.order("awaiting_org")
    args = ("orders", "create-org", order_id, "--name", name)
    args += ("--industry", industry, "--country", country)
    allowed = {"name", "industry", "country", "--name", "--industry", "--country"}
    assert_did_its_job_or_refused_cleanly(desk, order_id, args, allowed)


site_options = st.one_of(
    st.builds(
        "{}:{}".format,
        st.one_of(st.text(alphabet="abcxyz-", min_size=1, max_size=12), typed),
        st.one_of(st.integers(-5, MEETINGS_LICENCES + 5).map(str), typed),
    ),
    st.just(f"acme-nord:{MEETINGS_LICENCES}"),
    typed,
)


@CLI_EXAMPLES
@given(
    sites=st.lists(site_options, min_size=0, max_size=4),
    timezone=zones,
    early_release=st.booleans(),
    managed_in=st.one_of(st.none(), st.sampled_from(["control_hub", "site_admin"]), typed),
)
def test_meetings(
    desk: Desk, sites: list[str], timezone: str, early_release: bool, managed_in: str | None
) -> None:
    order_id = desk.order("org_mapped")
    args = ("orders", "meetings", order_id, "--timezone", timezone)
    for site in sites:
        args += ("--site", site)
    if early_release:
        args += ("--early-release",)
    if managed_in is not None:
        args += ("--users-managed-in", managed_in)
    allowed = {"--site", "sites", "site.name", "site.licences", "site", "licences", "timezone"}
    allowed |= {"users_managed_in", "--timezone", "--users-managed-in"}
    assert_did_its_job_or_refused_cleanly(desk, order_id, args, allowed)


CALLING_OPTIONS = {
    "--country": "country",
    "--timezone": "timezone",
    "--address1": "address_line1",
    "--address2": "address_line2",
    "--city": "city",
    "--postal-code": "postal_code",
    "--state": "state_code",
    "--language": "preferred_language",
    "--announcement-language": "announcement_language",
    "--sip-address": "sip_address",
}
plausible_address = st.sampled_from(
    [
        {"--country": "SE", "--address1": "Sveavägen 1", "--city": "Stockholm"},
        {"--country": "SE", "--postal-code": "111 57"},
        {"--country": "US", "--city": "San Jose", "--postal-code": "95134", "--state": "CA"},
        {"--country": "GB", "--address1": "10 Downing St", "--postal-code": "sw1a 2aa"},
    ]
)
languages = st.one_of(st.sampled_from(CALLING_LANGUAGES), st.just("sv-SE"), typed)


@CLI_EXAMPLES
@given(
    location=st.one_of(st.just("Stockholm HQ"), typed),
    given_options=st.dictionaries(
        st.sampled_from(sorted(CALLING_OPTIONS)), st.one_of(typed, languages, zones), max_size=6
    ),
    address=plausible_address,
)
def test_calling(
    desk: Desk, location: str, given_options: dict[str, str], address: dict[str, str]
) -> None:
    options = {**address, **given_options}
    order_id = desk.order("org_mapped")
    args = ("orders", "calling", order_id, "--location", location)
    for option, value in options.items():
        args += (option, value)
    allowed = {"name", "--location", *CALLING_OPTIONS, *CALLING_OPTIONS.values()}
    assert_did_its_job_or_refused_cleanly(desk, order_id, args, allowed)


@CLI_EXAMPLES
@given(service=st.one_of(st.sampled_from(["meetings", "calling"]), typed))
def test_later(desk: Desk, service: str) -> None:
    order_id = desk.order("org_mapped")
    args = ("orders", "later", "--", order_id, service)
    allowed = {"SERVICE", "{meetings|calling}", "service"}
    assert_did_its_job_or_refused_cleanly(desk, order_id, args, allowed)


@CLI_EXAMPLES
@given(admin=emails)
def test_self_setup(desk: Desk, admin: str) -> None:
    order_id = desk.order("org_mapped")
    args = ("orders", "self-setup", order_id, "--admin-email", admin)
    allowed = {"admin_email", "--admin-email"}
    assert_did_its_job_or_refused_cleanly(desk, order_id, args, allowed)


@CLI_EXAMPLES
@given(order_id=typed, actor=st.one_of(st.just(ACTOR), st.just(f" {ACTOR.upper()} "), emails))
def test_any_order_id_and_actor(desk: Desk, order_id: str, actor: str) -> None:
    """Ids and actors are typed too: an unknown one is refused, naming it."""
    before = database_state(desk.db)
    result = desk.run("orders", "later", "--actor", actor, "--", order_id, "meetings")
    assert result.exit_code == 2, (result.output, result.exception)
    named = named_fields(result.stderr)
    assert named <= {"actor", "--actor", "ORDER"}, result.stderr
    assert named or f"order {order_id!r} does not exist" in result.stderr, result.stderr
    assert database_state(desk.db) == before


@CLI_EXAMPLES
@given(name=typed, company=maybe_typed)
def test_check_site_answers_anything_and_writes_nothing(
    desk: Desk, name: str, company: str | None
) -> None:
    """A read: every name gets an answer (free, or why not and what is free instead);
    only text that is not text at all (not UTF-8) is refused."""
    before = database_state(desk.db)
    company_option = ("--company", company) if company is not None else ()
    result = desk.run("orders", "check-site", *company_option, "--format", "json", "--", name)
    if result.exit_code == 2 and not result.stdout:
        assert named_fields(result.stderr) <= {"NAME", "--company"}, result.stderr
        assert "not UTF-8 text" in result.stderr
    else:
        answer = json.loads(result.stdout)
        assert answer["free"] != bool(answer["reasons"])  # free, or says why not
        # 0: free; 1: a valid name that is taken; 2: not a valid site name.
        expected = 0 if answer["free"] else 1 if answer["valid"] else 2
        assert result.exit_code == expected, (result.output, result.exception)
    assert database_state(desk.db) == before


@CLI_EXAMPLES
@given(
    kind=st.sampled_from(["missing", "file", "empty", "junk"]),
    name=st.text(st.characters(exclude_characters="\x00/"), min_size=1, max_size=40).filter(
        lambda name: name not in (".", "..")
    ),
    junk=st.dictionaries(
        st.sampled_from(["orgs.csv", "users.csv", "orders.csv", "labels.csv"]),
        st.binary(max_size=60),
        max_size=3,
    ),
)
def test_import_of_a_bad_directory(
    desk: Desk, kind: str, name: str, junk: dict[str, bytes]
) -> None:
    """Not a directory, an empty one, or files of random bytes: exit 2, naming what is
    wrong with which file (or the directory), nothing imported."""
    before = database_state(desk.db)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            target = Path(tmp) / name
            if kind == "file":
                target.write_bytes(b"order_id\n")
            elif kind in ("empty", "junk"):
                target.mkdir()
            for file, raw in junk.items() if kind == "junk" else ():
                (target / file).write_bytes(raw)
        except (OSError, UnicodeEncodeError):  # a name the file system refuses: not a test
            event("unwritable name")
            return
        result = desk.run("import", "--actor", ACTOR, "--", str(target))
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [line for line in result.stderr.splitlines() if line.startswith("  ")]
    if result.stderr.startswith("Usage: "):  # click's own: a file, not a directory
        assert named_fields(result.stderr) == {"DIRECTORY"}, result.stderr
    else:
        assert lines, result.stderr
        assert all(re.match(r"  ([a-z_]+\.csv(:\d+)?: \S|DIR: )", line) for line in lines), lines
    assert database_state(desk.db) == before


# --- regressions the properties found ---------------------------------------------------


def test_text_that_is_not_utf8_is_refused_naming_the_option(desk: Desk) -> None:
    """A Latin-1 terminal's "ö" reaches Python as a lone surrogate, which the database
    driver could not encode: a traceback, exit 1."""
    order_id = desk.order("awaiting_org")
    before = database_state(desk.db, order_id)
    mapped = desk.act("orders", "map", order_id, "--org", "sj\udcf6berg")
    assert mapped.exit_code == 2, mapped.output
    assert "  --org: not UTF-8 text: check the terminal's encoding" in mapped.stderr
    shown = desk.run("orders", "show", f"{order_id}\udcff")
    assert shown.exit_code == 2, shown.output
    assert "  ORDER: not UTF-8 text" in shown.stderr
    assert database_state(desk.db, order_id) == before


def test_a_dataset_in_a_directory_whose_name_is_not_utf8_is_imported(
    desk: Desk, tmp_path: Path
) -> None:
    """File names are bytes; the audit event of the import could not store this one."""
    directory = tmp_path / "export-\udcff"
    shutil.copytree(FIXTURES / "mini", directory)
    orgs = directory / "orgs.csv"
    orgs.write_text(orgs.read_text(encoding="utf-8").replace("Acme test", "Acme QA"), "utf-8")
    result = desk.run("import", "--actor", ACTOR, str(directory))
    assert result.exit_code == 0, result.output
    with desk.db.read() as session:
        event = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "dataset.import")
            .order_by(AuditEvent.id.desc())
        ).first()
    assert event is not None and event.entity_id == "export-\ufffd"


def test_a_company_name_longer_once_transliterated_gets_its_org(desk: Desk) -> None:
    """255 Chinese characters fit the name, but the search key made of their Latin
    spelling did not fit its column: PostgreSQL refused the insert, a traceback."""
    order_id = desk.order("awaiting_org")
    name = "龍" * 255
    args = ("orders", "create-org", order_id, "--name", name, "--industry", "Retail")
    created = desk.act(*args, "--country", "TW", "--format", "json")
    assert created.exit_code == 0, created.output
    org_id = json.loads(created.stdout)["detail"]
    with desk.db.read() as session:
        org = session.get(Org, org_id)
        assert org is not None and (org.name, org.country) == (name, "TW")


@pytest.mark.parametrize("command", [["import", "--"], ["export", "--"], ["demo", "--out"]])
def test_a_path_that_is_not_utf8_is_refused_naming_it(desk: Desk, command: list[str]) -> None:
    """A lone surrogate (what a Latin-1 terminal's bytes become) in a path: the file system
    cannot take it, so the option says so before anything is looked at (it used to be an
    unexpected failure, exit 1)."""
    before = database_state(desk.db)
    result = desk.run(*command, "/tmp/Sj\udcf6berg-\ud800")  # \udcf6: a byte, fine
    assert result.exit_code == 2, result.output
    assert "not UTF-8 text" in result.stderr
    assert database_state(desk.db) == before
