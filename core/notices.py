"""Notices on the worklists: what other features put above the patients to deal with.

The worklists (`/pharmacy/`, `/clinic/`) show, above their patients, a few named sections
of notices that later features fill: recall notices, overdue reaction reports, expiring
stock, open shipment requests. The worklist does not know who fills them: an app registers
a provider for a section when Django starts (`AppConfig.ready`), as `patients.next_steps`
does for the patient pages. The registry lives in `core` so that every app may register,
whatever its layer (`batches` for stock and shipments, `vigilance` for recalls and
reactions).

A provider is `provider(user, *, now) -> Iterable[Notice]`. It must read through
`Model.objects.for_user(user)` (so a user sees only their sites' notices) and cost a fixed
number of queries, whatever the data size: the worklists' query count is tested at two
sizes. A section with no notice is not shown.

    from core import notices

    def recall_notices(user, *, now):
        for recall in Recall.objects.for_user(user).open():
            yield notices.Notice(f"Batch {recall.batch.code} recalled", href=..., urgent=True)

    notices.register(notices.RECALLS, recall_notices)
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

PHARMACY = "pharmacy"
CLINIC = "clinic"


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    worklists: tuple[str, ...]


# The sections, in the order the worklists show them (the key is what a provider names).
RECALLS = "recalls"
REACTION_REPORTS = "reaction_reports"
EXPIRING_STOCK = "expiring_stock"
SHIPMENT_REQUESTS = "shipment_requests"

SECTIONS = (
    Section(RECALLS, "Recall notices", (PHARMACY, CLINIC)),
    Section(REACTION_REPORTS, "Overdue reaction reports", (PHARMACY, CLINIC)),
    Section(EXPIRING_STOCK, "Expiring stock", (PHARMACY,)),
    Section(SHIPMENT_REQUESTS, "Open shipment requests", (PHARMACY,)),
)
_SECTION_KEYS = {s.key for s in SECTIONS}


@dataclass(frozen=True)
class Notice:
    """One line of a section: what to deal with, where, by when."""

    text: str
    href: str = ""
    deadline: datetime.datetime | None = None
    urgent: bool = False


@dataclass(frozen=True)
class NoticeSection:
    section: Section
    notices: list[Notice] = field(default_factory=list)


Provider = Callable[..., Iterable[Notice]]
_providers: dict[str, list[Provider]] = {}


def register(section: str, provider: Provider) -> Provider:
    """Add `provider(user, *, now) -> Iterable[Notice]` to the section named `section`."""
    if section not in _SECTION_KEYS:
        raise ValueError(f"unknown worklist notice section {section!r}")
    providers = _providers.setdefault(section, [])
    if provider not in providers:
        providers.append(provider)
    return provider


def unregister(section: str, provider: Provider) -> None:
    """Take a provider out again (tests)."""
    providers = _providers.get(section, [])
    if provider in providers:
        providers.remove(provider)


def notices_for(worklist: str, user, *, now: datetime.datetime) -> list[NoticeSection]:
    """The sections of `worklist` that have notices for `user` now, in `SECTIONS` order;
    within a section the urgent first, then by deadline (none last)."""
    shown = []
    for section in SECTIONS:
        if worklist not in section.worklists:
            continue
        providers = _providers.get(section.key, [])
        found = [n for provider in providers for n in provider(user, now=now)]
        if found:
            found.sort(key=lambda n: (not n.urgent, n.deadline is None, n.deadline or now))
            shown.append(NoticeSection(section, found))
    return shown
