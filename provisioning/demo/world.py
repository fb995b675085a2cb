"""A realistic, reproducible demo world, written as a dataset (see `dataset-format.md`).

The world is what support operations meet every day: companies with their main org,
abandoned trials and departmental orgs on the same domain, subsidiaries abroad, personal
orgs on free-mail addresses, partners managing customers, live trials about to convert,
and companies with no org yet. Orders are drawn from it for every case the organization
finder must handle, each with its ground truth (`OrderPlan`) and a workflow state.

Everything is streamed: rows are written as they are drawn, so a million orgs need no
more memory than the set of domains already used and the (much smaller) order plans.
The same `WorldParams` always give byte-identical files.
"""

from __future__ import annotations

import csv
import random
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from anyascii import anyascii
from cleanco import basename
from faker import Faker

from matching.vocabulary import DomainStatus, MemberStatus, OrgStatus, Service
from provisioning.dataset.fields import format_boolean, format_timestamp
from provisioning.dataset.schema import FILES
from provisioning.rules.industries import INDUSTRY_VERTICALS
from provisioning.states import Intent, OrderState, ServiceState


class OrderCase(StrEnum):
    """What the organization finder faces for an order (the ground truth's kind)."""

    EXACT = "exact"  # the provisioning e-mail is a member of the right org
    DOMAIN = "domain"  # a new address on a domain one or more orgs hold
    SUBDOMAIN = "subdomain"  # e.g. mail.acme.co.uk where the org holds acme.co.uk
    NO_MATCH = "no_match"  # a company with no org yet
    PARTNER_OWN_ADDRESS = "partner_own_address"  # the partner typed its own e-mail
    FREE_MAIL = "free_mail"  # a consumer mail address
    TRIAL_CONVERSION = "trial_conversion"  # exact match on a running trial it converts
    ADDON = "addon"  # more licences for an existing customer
    DEPARTMENT = "department"  # a department with its own org orders for itself
    SUBSIDIARY = "subsidiary"  # a subsidiary abroad orders on the parent's domain
    STALE_TRIAL = "stale_trial"  # only an abandoned trial holds the domain: a new org


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    locale: str
    suffix: str  # public suffix the country's companies register under


COUNTRIES: tuple[Country, ...] = (
    Country("SE", "sv_SE", "se"),
    Country("NO", "no_NO", "no"),
    Country("DE", "de_DE", "de"),
    Country("GB", "en_GB", "co.uk"),
    Country("AU", "en_AU", "com.au"),
    Country("JP", "ja_JP", "co.jp"),
    Country("BR", "pt_BR", "com.br"),
    Country("NZ", "en_NZ", "co.nz"),
    Country("US", "en_US", "com"),
    Country("FR", "fr_FR", "fr"),
    Country("NL", "nl_NL", "nl"),
    Country("ES", "es_ES", "es"),
    Country("IN", "en_IN", "co.in"),
)
# The customer verticals the demo draws from: the first twelve of the fixed list (partners
# are "IT Services"), so every demo org could have been created through `create-org`.
INDUSTRIES = INDUSTRY_VERTICALS[:12]
FREE_MAIL = (
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "yahoo.com",
    "icloud.com",
    "gmx.de",
    "web.de",
    "mail.ru",
    "yandex.ru",
    "hotmail.co.uk",
    "yahoo.co.jp",
)
SUBDOMAIN_LABELS = ("mail", "corp", "eu", "se", "it", "hq", "global")
DEPARTMENTS = ("Sales", "Marketing", "IT", "Support", "R&D", "Finance")

# Where open (non-history) orders stand, and how often.
QUEUE_STATES: tuple[tuple[OrderState, float], ...] = (
    (OrderState.AWAITING_INTENT, 0.22),
    (OrderState.DELEGATED, 0.10),
    (OrderState.AWAITING_ORG, 0.25),
    (OrderState.AWAITING_APPROVAL, 0.06),
    (OrderState.ORG_MAPPED, 0.15),
    (OrderState.COMPLETE, 0.17),
    (OrderState.EXPIRED, 0.05),
)
DECIDED_STATES = frozenset(
    {OrderState.AWAITING_APPROVAL, OrderState.ORG_MAPPED, OrderState.COMPLETE}
)
POOL_SIZE = 400
ID_WIDTH = 7


@dataclass(frozen=True)
class WorldParams:
    """The knobs of a world; tests draw worlds unlike the default by changing them."""

    orgs: int = 1000
    seed: int = 7
    names_seed: int = 2026  # which Faker names the pools hold (vary it to test on new names)
    now: datetime = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    members_per_org: float = 9.0  # mean members of a company's main org
    partner_share: float = 0.03  # of orgs: partners that manage customers
    p_partner_managed: float = 0.35  # a company's org is managed by a partner
    p_personal: float = 0.06  # of orgs: personal orgs on free-mail addresses
    p_trial_sibling: float = 0.18  # a company also has an abandoned trial on its domain
    p_department: float = 0.10  # a company also has a departmental org (no domain)
    p_subsidiary: float = 0.07  # a company has a subsidiary org abroad
    p_live_trial: float = 0.06  # a company's main org is a running trial
    p_no_org: float = 0.10  # per company drawn: it has no org yet (appears in orders only)
    p_stale_trial: float = 0.3  # a company with no org has an abandoned trial on its domain
    orders_per_100_orgs: float = 12.0
    history_share: float = 0.4  # of orders: past decisions (labels.csv)
    queue_days: int = 120  # open orders were placed within this many days before `now`
    case_weights: dict[str, float] = field(
        default_factory=lambda: {
            OrderCase.EXACT: 3.0,
            OrderCase.DOMAIN: 3.0,
            OrderCase.SUBDOMAIN: 1.0,
            OrderCase.PARTNER_OWN_ADDRESS: 1.0,
            OrderCase.TRIAL_CONVERSION: 1.0,
            OrderCase.ADDON: 1.0,
            OrderCase.FREE_MAIL: 0.3,  # an employee orders from a personal address
        }
    )

    def __post_init__(self) -> None:
        if self.orgs < 1:
            raise ValueError("orgs: must be at least 1")
        if self.now.tzinfo is None:
            raise ValueError("now: must carry a time zone")
        for f in fields(self):
            value = getattr(self, f.name)
            if (f.name.startswith("p_") or f.name.endswith("_share")) and not 0 <= value <= 1:
                raise ValueError(f"{f.name}: must be between 0 and 1 (got {value})")
        if self.members_per_org < 1:
            raise ValueError("members_per_org: must be at least 1")
        if self.orders_per_100_orgs < 0 or self.queue_days < 1:
            raise ValueError("orders_per_100_orgs / queue_days: must be positive")
        unknown = set(self.case_weights) - {c.value for c in OrderCase}
        if unknown or any(w < 0 for w in self.case_weights.values()):
            raise ValueError(f"case_weights: unknown cases or negative weights ({unknown})")


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """An order's ground truth and the workflow state the demo gives it."""

    order_id: str
    case: OrderCase
    true_org_id: str | None  # None: no existing org is right, a new one must be created
    state: OrderState
    state_age: timedelta  # how long it has been in that state
    intent: Intent | None
    delegate_email: str | None
    services: dict[str, ServiceState]  # service -> setup state


@dataclass(frozen=True, slots=True)
class WorldSummary:
    directory: Path
    counts: dict[str, int]
    plans: list[OrderPlan]


@dataclass(slots=True)
class _Company:
    """What an order needs to know about a company after its rows were written."""

    name: str
    stem: str
    country: Country
    domain: str
    org_id: str | None  # main org, None when the company has no org yet
    members: list[str]  # a few addresses of the main org's members
    partner: _Partner | None
    live_trial: bool


@dataclass(frozen=True, slots=True)
class _Partner:
    org_id: str
    email: str


class _Pools:
    """Faker is slow per call: draw name pools once per locale, then combine them.

    Each name is kept with its ASCII slug (the domain stem or e-mail part it becomes),
    computed once here rather than per row.
    """

    def __init__(self, seed: int) -> None:
        self.companies: dict[str, list[tuple[str, str]]] = {}
        self.first: dict[str, list[tuple[str, str]]] = {}
        self.last: dict[str, list[tuple[str, str]]] = {}
        for index, country in enumerate(COUNTRIES):
            fake = Faker(country.locale)
            fake.seed_instance(seed * 1000 + index)
            companies = [fake.company() for _ in range(POOL_SIZE)]
            self.companies[country.code] = [
                (name, slug(basename(anyascii(name)) or name)[:20] or "company")
                for name in companies
            ]
            self.first[country.code] = [_named(fake.first_name()) for _ in range(POOL_SIZE)]
            self.last[country.code] = [_named(fake.last_name()) for _ in range(POOL_SIZE)]


@lru_cache(maxsize=2)
def _pools(names_seed: int) -> _Pools:
    """Pools depend on `names_seed` only: worlds of one seed family share them."""
    return _Pools(names_seed)


def _named(name: str) -> tuple[str, str]:
    return name, slug(name, "-") or "x"


def slug(text: str, separator: str = "") -> str:
    ascii_text = anyascii(text).lower()
    words = ["".join(ch for ch in word if ch.isalnum()) for word in ascii_text.split()]
    return separator.join(w for w in words if w)


class _Writer:
    """One CSV writer per dataset file, in the dataset's column order."""

    def __init__(self, directory: Path, stack: ExitStack) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.counts: dict[str, int] = {}
        self._writers: dict[str, Any] = {}
        for spec in FILES:
            handle = stack.enter_context(
                (directory / spec.name).open("w", encoding="utf-8", newline="")
            )
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(spec.column_names)
            self._writers[spec.name] = writer
            self.counts[spec.name] = 0

    def row(self, file: str, *values: object) -> None:
        self._writers[file].writerow(["" if v is None else v for v in values])
        self.counts[file] += 1


class _World:
    def __init__(self, params: WorldParams, out: _Writer) -> None:
        self.p = params
        self.out = out
        self.rng = random.Random(params.seed)
        self.pools = _pools(params.names_seed)
        self.org_count = 0
        self.order_count = 0
        self.person_count = 0
        self.domains: set[str] = set()
        self.partners: list[_Partner] = []
        self.plans: list[OrderPlan] = []
        self.order_rate = params.orders_per_100_orgs / 100

    # ---- ids, names, times ------------------------------------------------------------
    def next_org_id(self) -> str:
        self.org_count += 1
        return f"org-{self.org_count:0{ID_WIDTH}d}"

    def next_order_id(self) -> str:
        self.order_count += 1
        return f"ORD-{self.order_count:0{ID_WIDTH}d}"

    def ago(self, low_days: float, high_days: float) -> datetime:
        seconds = self.rng.uniform(low_days, high_days) * 86_400
        return (self.p.now - timedelta(seconds=seconds)).replace(microsecond=0)

    def company_name(self, country: Country) -> tuple[str, str]:
        """A company name and the stem of its domain."""
        return self.rng.choice(self.pools.companies[country.code])

    def unique_domain(self, stem: str, suffix: str) -> str:
        domain = f"{stem}.{suffix}"
        number = 1
        while domain in self.domains:
            number += 1
            domain = f"{stem}{number}.{suffix}"
        self.domains.add(domain)
        return domain

    def person(self, country: Country) -> tuple[str, str]:
        """A person's display name and the local part of their address."""
        first, first_slug = self.rng.choice(self.pools.first[country.code])
        last, last_slug = self.rng.choice(self.pools.last[country.code])
        return f"{first} {last}", f"{first_slug}.{last_slug}"

    def free_mail_person(self, country: Country) -> tuple[str, str]:
        """A person and a unique consumer mail address of theirs."""
        name, local = self.person(country)
        self.person_count += 1
        return name, f"{local}.{self.person_count}@{self.rng.choice(FREE_MAIL)}"

    def address(self, country: Country, domain: str, used: set[str]) -> str:
        _, local = self.person(country)
        candidate, number = local, 1
        while f"{candidate}@{domain}" in used:
            number += 1
            candidate = f"{local}{number}"
        used.add(f"{candidate}@{domain}")
        return f"{candidate}@{domain}"

    # ---- rows ---------------------------------------------------------------------------
    def org(
        self,
        name: str,
        country: Country,
        status: OrgStatus,
        created: datetime,
        partner_id: str | None = None,
        industry: str | None = None,
    ) -> str:
        org_id = self.next_org_id()
        industry = industry if industry is not None else self.rng.choice(INDUSTRIES)
        self.out.row(
            "orgs.csv",
            org_id,
            name,
            country.code,
            industry,
            format_timestamp(created),
            status.value,
            partner_id,
        )
        return org_id

    def members(
        self,
        org_id: str,
        country: Country,
        domain: str,
        count: int,
        used: set[str],
        active_share: float,
        silent_days: tuple[float, float],
    ) -> list[str]:
        addresses = []
        for _ in range(count):
            email = self.address(country, domain, used)
            active = self.rng.random() < active_share
            status = MemberStatus.ACTIVE if active else MemberStatus.INACTIVE
            seen = self.ago(*silent_days) if self.rng.random() > 0.05 else None
            self.out.row("users.csv", org_id, email, status.value, format_timestamp(seen))
            addresses.append(email)
        return addresses

    def member_count(self) -> int:
        return max(1, round(self.rng.expovariate(1 / self.p.members_per_org)))

    # ---- the world ----------------------------------------------------------------------
    def generate(self) -> None:
        partners = max(1, round(self.p.orgs * self.p.partner_share)) if self.p.orgs >= 10 else 0
        for _ in range(partners):
            self.partner()
        while self.org_count < self.p.orgs:
            if self.rng.random() < self.p.p_personal:
                self.personal()
            elif self.rng.random() < self.p.p_no_org:
                self.company_without_org()
            else:
                self.company()

    def partner(self) -> None:
        country = self.rng.choice(COUNTRIES)
        company, stem = self.company_name(country)
        name = f"{company} IT Services"
        domain = self.unique_domain(f"{stem}it"[:24], country.suffix)
        org_id = self.org(
            name, country, OrgStatus.ACTIVE, self.ago(1500, 4000), industry="IT Services"
        )
        self.out.row("domains.csv", org_id, domain, DomainStatus.CLAIMED.value)
        staff = self.members(org_id, country, domain, self.rng.randint(3, 15), set(), 0.95, (0, 20))
        self.partners.append(_Partner(org_id, staff[0]))

    def personal(self) -> None:
        country = self.rng.choice(COUNTRIES)
        name, email = self.free_mail_person(country)
        status = self.rng.choice((OrgStatus.TRIAL, OrgStatus.ACTIVE, OrgStatus.EXPIRED))
        org_id = self.org(name, country, status, self.ago(30, 1500), industry="")
        self.out.row(
            "users.csv",
            org_id,
            email,
            MemberStatus.ACTIVE.value,
            format_timestamp(self.ago(0, 200)),
        )
        if self.rng.random() < self.order_rate * 1.5:
            self.order(OrderCase.FREE_MAIL, org_id, email, name, country, None)

    def company_without_org(self) -> None:
        country = self.rng.choice(COUNTRIES)
        name, stem = self.company_name(country)
        domain = self.unique_domain(stem, country.suffix)
        if self.rng.random() < self.p.p_stale_trial and self.org_count < self.p.orgs:
            # Someone tried Webex years ago and left: not the org a new order belongs in.
            used: set[str] = set()
            self.abandoned_trial(name, country, domain, used)
            if self.rng.random() < self.order_rate * 4:
                email = self.address(country, domain, used)
                self.order(OrderCase.STALE_TRIAL, None, email, self.as_typed(name), country, None)
            return
        if self.rng.random() < self.order_rate * 4:
            email = self.address(country, domain, set())
            if self.rng.random() < 0.1:  # a new company using a personal address
                _, email = self.free_mail_person(country)
                self.order(OrderCase.FREE_MAIL, None, email, name, country, None)
            else:
                self.order(OrderCase.NO_MATCH, None, email, name, country, None)

    def company(self) -> None:
        rng, p = self.rng, self.p
        country = rng.choice(COUNTRIES)
        name, stem = self.company_name(country)
        domain = self.unique_domain(stem, country.suffix)
        partner = (
            rng.choice(self.partners)
            if self.partners and rng.random() < p.p_partner_managed
            else None
        )
        live_trial = rng.random() < p.p_live_trial
        status = OrgStatus.TRIAL if live_trial else OrgStatus.ACTIVE
        created = self.ago(20, 60) if live_trial else self.ago(200, 3500)
        org_id = self.org(name, country, status, created, partner.org_id if partner else None)
        proof = DomainStatus.CLAIMED if rng.random() < 0.6 else DomainStatus.VERIFIED
        self.out.row("domains.csv", org_id, domain, proof.value)
        used: set[str] = set()
        members = self.members(org_id, country, domain, self.member_count(), used, 0.9, (0, 45))
        company = _Company(name, stem, country, domain, org_id, members[:4], partner, live_trial)

        if rng.random() < p.p_trial_sibling and self.org_count < p.orgs:
            self.abandoned_trial(name, country, domain, used)
        if rng.random() < p.p_department and self.org_count < p.orgs:
            # A department that bought on its own: members on the domain, no domain row.
            department_name = f"{name} {rng.choice(DEPARTMENTS)}"
            department = self.org(department_name, country, OrgStatus.ACTIVE, self.ago(100, 900))
            self.members(department, country, domain, rng.randint(2, 8), used, 0.85, (0, 60))
            if rng.random() < self.order_rate:
                email = self.address(country, domain, used)
                self.order(
                    OrderCase.DEPARTMENT,
                    department,
                    email,
                    self.as_typed(department_name),
                    country,
                    None,
                )
        if rng.random() < p.p_subsidiary and self.org_count < p.orgs:
            self.subsidiary(company, used)
        if rng.random() < self.order_rate:
            self.company_order(company, used)

    def abandoned_trial(self, name: str, country: Country, domain: str, used: set[str]) -> str:
        """A trial someone started years ago on the domain: unverified, long silent."""
        trial = self.org(
            f"{name.split()[0]} test", country, OrgStatus.EXPIRED, self.ago(700, 2500), industry=""
        )
        self.out.row("domains.csv", trial, domain, DomainStatus.UNVERIFIED.value)
        self.members(trial, country, domain, self.rng.randint(1, 3), used, 0.0, (400, 1500))
        return trial

    def subsidiary(self, parent: _Company, used: set[str]) -> None:
        rng = self.rng
        abroad = rng.choice([c for c in COUNTRIES if c is not parent.country])
        name = f"{parent.name.split()[0]} {abroad.code}"
        org_id = self.org(name, abroad, OrgStatus.ACTIVE, self.ago(100, 2000))
        if rng.random() < 0.5:  # its own country domain
            domain = self.unique_domain(parent.stem, abroad.suffix)
            self.out.row("domains.csv", org_id, domain, DomainStatus.VERIFIED.value)
            members_domain, used = domain, set()
        else:  # the parent's domain, without a domain row of its own
            members_domain = parent.domain
        members = self.members(
            org_id, abroad, members_domain, rng.randint(2, 10), used, 0.9, (0, 60)
        )
        if rng.random() < self.order_rate:
            if members_domain == parent.domain:  # a new colleague abroad, parent's domain
                email = self.address(abroad, members_domain, used)
                self.order(OrderCase.SUBSIDIARY, org_id, email, name, abroad, None)
            else:
                self.order(OrderCase.EXACT, org_id, members[0], name, abroad, None)

    def company_order(self, company: _Company, used: set[str]) -> None:
        rng = self.rng
        weights = dict(self.p.case_weights)
        if not company.live_trial:
            weights.pop(OrderCase.TRIAL_CONVERSION, None)
        elif OrderCase.TRIAL_CONVERSION in weights:
            weights = {OrderCase.TRIAL_CONVERSION: 1.0}
        if company.partner is None:
            weights.pop(OrderCase.PARTNER_OWN_ADDRESS, None)
        weights = {k: v for k, v in weights.items() if v > 0}
        if not weights:
            return
        case = OrderCase(rng.choices(list(weights), list(weights.values()))[0])
        partner_id = company.partner.org_id if company.partner and rng.random() < 0.8 else None
        if case in (OrderCase.EXACT, OrderCase.TRIAL_CONVERSION, OrderCase.ADDON):
            email = rng.choice(company.members)
        elif case is OrderCase.DOMAIN:
            email = self.address(company.country, company.domain, used)
        elif case is OrderCase.SUBDOMAIN:
            email = self.address(
                company.country, f"{rng.choice(SUBDOMAIN_LABELS)}.{company.domain}", used
            )
        elif case is OrderCase.FREE_MAIL:
            _, email = self.free_mail_person(company.country)
        else:  # PARTNER_OWN_ADDRESS
            assert company.partner is not None
            email, partner_id = company.partner.email, company.partner.org_id
        self.order(
            case, company.org_id, email, self.as_typed(company.name), company.country, partner_id
        )

    def as_typed(self, name: str) -> str:
        """Buyers rarely type the registered name: legal form dropped, case changed."""
        roll = self.rng.random()
        if roll < 0.35:
            return basename(name) or name
        if roll < 0.45:
            return name.upper()
        if roll < 0.5 and len(name) > 6:
            cut = self.rng.randrange(1, len(name) - 1)
            return name[:cut] + name[cut + 1 :]  # a typo: one letter dropped
        return name

    def order(
        self,
        case: OrderCase,
        true_org: str | None,
        email: str,
        company: str,
        country: Country,
        partner_id: str | None,
    ) -> None:
        rng = self.rng
        order_id = self.next_order_id()
        history = rng.random() < self.p.history_share
        if history:
            placed = self.ago(180, 730)
        else:
            placed = self.ago(0, min(self.p.queue_days, rng.expovariate(1 / 25) + 0.1))
        self.out.row(
            "orders.csv",
            order_id,
            format_timestamp(placed),
            partner_id,
            email,
            company,
            country.code,
        )
        services = (
            [Service.MEETINGS] if rng.random() < 0.55 else [Service.MEETINGS, Service.CALLING]
        )
        if rng.random() < 0.2:
            services = [Service.CALLING]
        for service in services:
            quantity = rng.choice((5, 10, 20, 25, 50, 100, 250, 500))
            trial = case is OrderCase.TRIAL_CONVERSION
            addon = case is OrderCase.ADDON
            self.out.row(
                "order_lines.csv",
                order_id,
                service.value,
                quantity,
                format_boolean(trial),
                format_boolean(addon),
            )
        if history:
            self.out.row("labels.csv", order_id, true_org)
            self.plans.append(
                OrderPlan(
                    order_id,
                    case,
                    true_org,
                    OrderState.HISTORY,
                    self.p.now - placed,
                    None,
                    None,
                    {},
                )
            )
            return
        self.plans.append(self.queue_plan(order_id, case, true_org, placed, partner_id, services))

    def queue_plan(
        self,
        order_id: str,
        case: OrderCase,
        true_org: str | None,
        placed: datetime,
        partner_id: str | None,
        services: list[Service],
    ) -> OrderPlan:
        rng = self.rng
        states, weights = zip(*QUEUE_STATES, strict=True)
        state = rng.choices(states, weights)[0]
        if state is OrderState.EXPIRED and self.p.now - placed < timedelta(days=30):
            state = OrderState.AWAITING_INTENT  # lines do not close that fast
        age = (self.p.now - placed) * rng.uniform(0.1, 1.0)
        intent = None
        delegate = None
        if state is OrderState.DELEGATED:
            intent, delegate = Intent.DELEGATE, f"it.admin{rng.randint(1, 99)}@example.net"
        elif state is not OrderState.AWAITING_INTENT:
            intent = Intent.CUSTOMER if partner_id else Intent.OWN_COMPANY
        setup: dict[str, ServiceState] = {}
        for service in services:
            if state is OrderState.COMPLETE:
                self_setup = partner_id and rng.random() < 0.2
                setup[service] = (
                    ServiceState.CUSTOMER_SELF_SETUP if self_setup else ServiceState.PROVISIONED
                )
            elif state is OrderState.ORG_MAPPED:
                setup[service] = rng.choice(
                    (ServiceState.PENDING, ServiceState.CONFIGURE_LATER, ServiceState.PROVISIONED)
                )
            else:
                setup[service] = ServiceState.PENDING
        if state is OrderState.COMPLETE and ServiceState.CUSTOMER_SELF_SETUP in setup.values():
            # Handed to the customer: open until they finish (complete means every
            # service provisioned), as the services leave it.
            state = OrderState.ORG_MAPPED
        if state is OrderState.ORG_MAPPED and all(
            s is ServiceState.PROVISIONED for s in setup.values()
        ):
            setup[services[0]] = ServiceState.CONFIGURE_LATER
        return OrderPlan(order_id, case, true_org, state, age, intent, delegate, setup)


def generate_world(params: WorldParams, out_dir: Path) -> WorldSummary:
    """Write the world's dataset into `out_dir`; returns row counts and the order plans."""
    with ExitStack() as stack:
        writer = _Writer(out_dir, stack)
        world = _World(params, writer)
        world.generate()
    return WorldSummary(out_dir, dict(writer.counts), world.plans)
