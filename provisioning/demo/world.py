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

import pycountry
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
    LIVE_TRIAL = "live_trial"  # the company's only org is a trial someone started weeks ago


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


ORG_NAME_STYLES = ("registered", "short", "upper", "lower", "with_country", "domain", "webex")
TRIAL_NAME_STYLES = (
    "company_test",  # "Acme test"
    "company_trial",  # "Acme Trial"
    "persons_org",  # "Lars's org"
    "person",  # "Lars Svensson"
    "email",  # "lars.svensson@acme.se"
    "first_name",  # "Lars"
    "generic",  # "Webex trial"
)
TYPED_STYLES = ("basename", "upper", "lower", "typo", "extra_word", "first_word")
_EXTRA_WORDS = ("Group", "Inc", "Ltd", "Holding", "International", "& Co")
_GENERIC_TRIALS = ("Webex trial", "Trial", "My Webex", "Test org", "Webex Suite trial")


def _weights(value: dict[str, float], allowed: tuple[str, ...], name: str) -> None:
    unknown = set(value) - set(allowed)
    if unknown or any(w < 0 for w in value.values()):
        raise ValueError(f"{name}: unknown styles or negative weights ({sorted(unknown)})")


@dataclass(frozen=True)
class Habits:
    """How a world's people name and run things. The defaults are the demo's own habits;
    a family of worlds (`provisioning.demo.families`) draws them at random, so that a
    model trained on some families can be judged on others it never saw.

    Every habit at its default leaves the demo world byte for byte as it was: the draws
    a habit needs come from a random stream of their own.
    """

    # How a company's main org is named (weights over ORG_NAME_STYLES).
    org_names: dict[str, float] = field(default_factory=lambda: {"registered": 1.0})
    # How self-signup trials are named (weights over TRIAL_NAME_STYLES).
    trial_names: dict[str, float] = field(default_factory=lambda: {"company_test": 1.0})
    # How buyers type the company name (share per TYPED_STYLES; the rest type it as
    # registered), tried in this order with one draw.
    typed: dict[str, float] = field(
        default_factory=lambda: {"basename": 0.35, "upper": 0.10, "typo": 0.05}
    )
    countries: tuple[str, ...] = ()  # the countries companies are in; empty: all
    # Companies of one country have distinct registered names (a companies registry sees
    # to it) while the name pool lasts; the demo leaves namesakes in, as a trap.
    unique_names: bool = False
    p_dotcom: float = 0.0  # a company registers under .com whatever its country
    p_claimed: float = 0.6  # a main org's domain is claimed (else verified)
    p_no_domain_row: float = 0.0  # a main org never added its domain (members only)
    p_person_trial: float = 0.0  # a live trial main org is a self-signup named per trial_names
    p_trial_only: float = 0.0  # a company with no org yet has a live self-signup trial
    p_partner_on_order: float = 0.8  # a managed customer's order names the partner
    active_share: float = 0.9  # of a main org's members: active
    org_days: tuple[float, float] = (200.0, 3500.0)  # a main org was created this long ago
    live_trial_days: tuple[float, float] = (20.0, 60.0)  # a running trial was started
    abandoned_days: tuple[float, float] = (700.0, 2500.0)  # an abandoned trial was started
    silent_days: tuple[float, float] = (0.0, 45.0)  # a main org member was last active

    def __post_init__(self) -> None:
        _weights(self.org_names, ORG_NAME_STYLES, "org_names")
        _weights(self.trial_names, TRIAL_NAME_STYLES, "trial_names")
        _weights(self.typed, TYPED_STYLES, "typed")
        if sum(self.typed.values()) > 1:
            raise ValueError("typed: the shares add up to more than 1")
        unknown = set(self.countries) - {c.code for c in COUNTRIES}
        if unknown:
            raise ValueError(f"countries: unknown codes {sorted(unknown)}")
        for name in ("org_days", "live_trial_days", "abandoned_days", "silent_days"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name}: need 0 <= low <= high")
        for name in (
            "p_dotcom",
            "p_claimed",
            "p_no_domain_row",
            "p_person_trial",
            "p_trial_only",
            "p_partner_on_order",
            "active_share",
        ):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}: must be between 0 and 1")


@dataclass(frozen=True)
class WorldParams:
    """The knobs of a world; tests draw worlds unlike the default by changing them."""

    orgs: int = 1000
    seed: int = 7
    names_seed: int = 2026  # which Faker names the pools hold (vary it to test on new names)
    name_pool: int = POOL_SIZE  # names drawn per country: fewer, more companies share a name
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
    habits: Habits = field(default_factory=Habits)

    def __post_init__(self) -> None:
        if self.orgs < 1:
            raise ValueError("orgs: must be at least 1")
        if self.now.tzinfo is None:
            raise ValueError("now: must carry a time zone")
        for f in fields(self):
            value = getattr(self, f.name)
            if (f.name.startswith("p_") or f.name.endswith("_share")) and not 0 <= value <= 1:
                raise ValueError(f"{f.name}: must be between 0 and 1 (got {value})")
        if self.name_pool < 10:
            raise ValueError("name_pool: must be at least 10")
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
class _Signer:
    first: str
    last: str
    email: str


@dataclass(frozen=True, slots=True)
class _Partner:
    org_id: str
    email: str


class _Pools:
    """Faker is slow per call: draw name pools once per locale, then combine them.

    Each name is kept with its ASCII slug (the domain stem or e-mail part it becomes),
    computed once here rather than per row.
    """

    def __init__(self, seed: int, size: int = POOL_SIZE) -> None:
        self.companies: dict[str, list[tuple[str, str]]] = {}
        self.first: dict[str, list[tuple[str, str]]] = {}
        self.last: dict[str, list[tuple[str, str]]] = {}
        for index, country in enumerate(COUNTRIES):
            fake = Faker(country.locale)
            fake.seed_instance(seed * 1000 + index)
            companies = [fake.company() for _ in range(size)]
            self.companies[country.code] = [
                (name, slug(basename(anyascii(name)) or name)[:20] or "company")
                for name in companies
            ]
            self.first[country.code] = [_named(fake.first_name()) for _ in range(size)]
            self.last[country.code] = [_named(fake.last_name()) for _ in range(size)]


@lru_cache(maxsize=2)
def _pools(names_seed: int, size: int = POOL_SIZE) -> _Pools:
    """Pools depend on `names_seed` and their size only: worlds of one seed share them."""
    return _Pools(names_seed, size)


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
        self.habits = params.habits
        # The habits' own draws: at their defaults none is made, so the demo stays as it was.
        self.hrng = random.Random(params.seed * 7919 + 17)
        wanted = set(params.habits.countries)
        self.countries = tuple(c for c in COUNTRIES if not wanted or c.code in wanted)
        self.pools = _pools(params.names_seed, params.name_pool)
        self.unused_names: dict[str, list[tuple[str, str]]] = {}
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
        pool = self.pools.companies[country.code]
        if not self.habits.unique_names:
            return self.rng.choice(pool)
        unused = self.unused_names.get(country.code)
        if unused is None:
            unused = sorted(set(pool))
            self.hrng.shuffle(unused)
            self.unused_names[country.code] = unused
        return unused.pop() if unused else self.rng.choice(pool)

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

    # ---- habits -------------------------------------------------------------------------
    def habit(self, weights: dict[str, float]) -> str:
        """One style of `weights`, drawn from the habits' stream (no draw for one style)."""
        if len(weights) == 1:
            return next(iter(weights))
        styles = [style for style, weight in weights.items() if weight > 0]
        return self.hrng.choices(styles, [weights[style] for style in styles])[0]

    def suffix_for(self, country: Country) -> str:
        dotcom = self.habits.p_dotcom
        return "com" if dotcom and self.hrng.random() < dotcom else country.suffix

    def org_name(self, name: str, country: Country, domain: str) -> str:
        """What a company's main org is called, by this world's habit."""
        style = self.habit(self.habits.org_names)
        short = basename(name) or name
        if style == "short":
            return short
        if style == "upper":
            return name.upper()
        if style == "lower":
            return name.lower()
        if style == "with_country":
            found = pycountry.countries.get(alpha_2=country.code)
            return f"{short} {found.name if found else country.code}"
        if style == "domain":
            return domain
        if style == "webex":
            return f"{short} - Webex"
        return name

    def signer(self, country: Country, domain: str, used: set[str]) -> _Signer:
        """The person who started a self-signup trial, with an address on `domain`."""
        first, first_slug = self.hrng.choice(self.pools.first[country.code])
        last, last_slug = self.hrng.choice(self.pools.last[country.code])
        local, number = f"{first_slug}.{last_slug}", 1
        while f"{local}@{domain}" in used:
            number += 1
            local = f"{first_slug}.{last_slug}{number}"
        used.add(f"{local}@{domain}")
        return _Signer(first, last, f"{local}@{domain}")

    def trial_name(self, company: str, signer: _Signer) -> str:
        """What a self-signup trial is called, by this world's habit."""
        style = self.habit(self.habits.trial_names)
        if style == "company_trial":
            return f"{basename(company) or company} Trial"
        if style == "persons_org":
            return f"{signer.first}'s org"
        if style == "person":
            return f"{signer.first} {signer.last}"
        if style == "email":
            return signer.email
        if style == "first_name":
            return signer.first
        if style == "generic":
            return self.hrng.choice(_GENERIC_TRIALS)
        return f"{company.split()[0]} test"

    def signer_row(self, org_id: str, signer: _Signer, active: bool, seen: datetime) -> None:
        status = MemberStatus.ACTIVE if active else MemberStatus.INACTIVE
        self.out.row("users.csv", org_id, signer.email, status.value, format_timestamp(seen))

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
        country = self.rng.choice(self.countries)
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
        country = self.rng.choice(self.countries)
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
        country = self.rng.choice(self.countries)
        name, stem = self.company_name(country)
        domain = self.unique_domain(stem, self.suffix_for(country))
        trial_only = self.habits.p_trial_only
        if trial_only and self.hrng.random() < trial_only and self.org_count < self.p.orgs:
            self.live_trial_only(name, country, domain)
            return
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

    def live_trial_only(self, name: str, country: Country, domain: str) -> None:
        """A company with no org but a trial someone there started weeks ago, named after
        them (or by whatever habit): the org a new order belongs in."""
        hrng, used = self.hrng, set()
        signer = self.signer(country, domain, used)
        trial = self.org(
            self.trial_name(name, signer),
            country,
            OrgStatus.TRIAL,
            self.ago(*self.habits.live_trial_days),
            industry="",
        )
        if hrng.random() < 0.5:
            self.out.row("domains.csv", trial, domain, DomainStatus.UNVERIFIED.value)
        self.signer_row(trial, signer, True, self.ago(0, 10))
        self.members(trial, country, domain, hrng.randint(0, 3), used, 0.9, (0, 20))
        if self.rng.random() < self.order_rate * 4:
            email = signer.email if hrng.random() < 0.7 else self.address(country, domain, used)
            converts = hrng.random() < 0.5
            typed = self.as_typed(name)
            self.order(OrderCase.LIVE_TRIAL, trial, email, typed, country, None, converts)

    def company(self) -> None:
        rng, p, h = self.rng, self.p, self.habits
        country = rng.choice(self.countries)
        name, stem = self.company_name(country)
        domain = self.unique_domain(stem, self.suffix_for(country))
        partner = (
            rng.choice(self.partners)
            if self.partners and rng.random() < p.p_partner_managed
            else None
        )
        live_trial = rng.random() < p.p_live_trial
        status = OrgStatus.TRIAL if live_trial else OrgStatus.ACTIVE
        created = self.ago(*h.live_trial_days) if live_trial else self.ago(*h.org_days)
        used: set[str] = set()
        signer = None
        if live_trial and h.p_person_trial and self.hrng.random() < h.p_person_trial:
            signer = self.signer(country, domain, used)  # a self-signup that grew
            org_name = self.trial_name(name, signer)
        else:
            org_name = self.org_name(name, country, domain)
        org_id = self.org(org_name, country, status, created, partner.org_id if partner else None)
        proof = DomainStatus.CLAIMED if rng.random() < h.p_claimed else DomainStatus.VERIFIED
        if signer is not None:
            if self.hrng.random() < 0.5:
                self.out.row("domains.csv", org_id, domain, DomainStatus.UNVERIFIED.value)
        elif not (h.p_no_domain_row and self.hrng.random() < h.p_no_domain_row):
            self.out.row("domains.csv", org_id, domain, proof.value)
        members = self.members(
            org_id, country, domain, self.member_count(), used, h.active_share, h.silent_days
        )
        if signer is not None:
            self.signer_row(org_id, signer, True, self.ago(0, 10))
            members.insert(0, signer.email)
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
        h = self.habits
        signer = None
        if set(h.trial_names) == {"company_test"}:
            trial_name = f"{name.split()[0]} test"
        else:
            signer = self.signer(country, domain, used)
            trial_name = self.trial_name(name, signer)
        trial = self.org(
            trial_name, country, OrgStatus.EXPIRED, self.ago(*h.abandoned_days), industry=""
        )
        self.out.row("domains.csv", trial, domain, DomainStatus.UNVERIFIED.value)
        if signer is not None:
            self.signer_row(trial, signer, False, self.ago(400, 1500))
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
        on_order = self.habits.p_partner_on_order
        partner_id = company.partner.org_id if company.partner and rng.random() < on_order else None
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
        roll, edge = self.rng.random(), 0.0
        for style, share in self.habits.typed.items():
            edge += share
            if roll >= edge:
                continue
            if style == "basename":
                return basename(name) or name
            if style == "upper":
                return name.upper()
            if style == "lower":
                return name.lower()
            if style == "extra_word":
                return f"{basename(name) or name} {self.hrng.choice(_EXTRA_WORDS)}"
            if style == "first_word":
                return name.split()[0]
            if len(name) > 6:  # typo
                cut = self.rng.randrange(1, len(name) - 1)
                return name[:cut] + name[cut + 1 :]  # one letter dropped
            return name
        return name

    def order(
        self,
        case: OrderCase,
        true_org: str | None,
        email: str,
        company: str,
        country: Country,
        partner_id: str | None,
        converts_trial: bool = False,
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
            trial = case is OrderCase.TRIAL_CONVERSION or converts_trial
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
