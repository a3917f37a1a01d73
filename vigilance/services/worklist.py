"""What the worklists show of vigilance: the sections of `core.notices` it fills (recall
notices and stopped doses, overdue reaction reports, expiring stock), registered from
`VigilanceConfig.ready`, and the reads behind them.

Each is a read through `for_user`, so a user sees only their own sites' entries:

- `recall_notices(user)`: the recall notices of the user's hospitals not yet acknowledged.
- `stopped_doses(user)`: doses a recall stopped, to flag on their hospital's worklist.
- `overdue_reactions(user)`: adverse events whose notification part A is overdue.
- `expiring_stock(user)`: available bags that expire within `EXPIRY_WARNING_DAYS`.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils import timezone

from batches.models import Bag
from core import notices
from core.formatting import fmt_time
from dosing.models import AdverseEvent, Dose
from vigilance.models import RecallNotice
from vigilance.rules import overdue_filter, report_deadline


def recall_notices(user) -> QuerySet:
    """The recall notices the user's hospitals have not acknowledged, newest first."""
    return (
        RecallNotice.objects.for_user(user)
        .unacknowledged()
        .select_related("recall__batch", "recall__signature")
    )


def stopped_doses(user) -> QuerySet:
    """The doses a recall stopped (not infused, flagged until cancelled or replaced)."""
    return (
        Dose.objects.for_user(user)
        .filter(status=Dose.Status.STOPPED)
        .select_related("patient", "batch")
        .order_by("-stopped_at", "patient__code")
    )


def overdue_reactions(user, *, now: datetime.datetime | None = None) -> QuerySet:
    """Serious, at least possibly related adverse events with no part A submitted within
    `REACTION_REPORT_HOURS` of being recorded (see `vigilance.rules.is_overdue`)."""
    return (
        AdverseEvent.objects.for_user(user)
        .filter(overdue_filter(now or timezone.now()))
        .select_related("patient", "dose")
        .order_by("reported_at")
    )


def expiring_stock(user, *, on_date: datetime.date | None = None, days: int | None = None):
    """Available bags whose batch expires within `days` (`EXPIRY_WARNING_DAYS`) of
    `on_date` (today), soonest first; bags already past their expiry are
    `expire_bags`'s."""
    on_date = on_date or timezone.localdate()
    days = settings.EXPIRY_WARNING_DAYS if days is None else days
    return (
        Bag.objects.for_user(user)
        .filter(
            status=Bag.Status.AVAILABLE,
            batch__expires_on__gte=on_date,
            batch__expires_on__lte=on_date + datetime.timedelta(days=days),
        )
        .select_related("batch", "location")
        .order_by("batch__expires_on", "code")
    )


# The worklists' notice sections (`core.notices`), registered in `VigilanceConfig.ready`.
# Each reads through `for_user` (the reader's own sites only) in a fixed number of queries.


def recall_section(user, *, now: datetime.datetime):
    """Recall notices of the reader's hospitals not yet acknowledged, and the doses a
    recall stopped there (flagged until the course is settled)."""
    for notice in recall_notices(user).select_related("hospital"):
        recall = notice.recall
        yield notices.Notice(
            f"Batch {recall.batch.code} recalled ({recall.code}, {notice.hospital.code}): "
            f"{notice.held_bags} bag(s) not infused, {notice.exposed_patients} patient(s) "
            "infused from it. Read the lookback and acknowledge.",
            href=reverse("vigilance:lookback", args=[recall.pk]),
            urgent=True,
        )
    for dose in stopped_doses(user):
        yield notices.Notice(
            f"Dose {dose.code} of patient {dose.patient.code} stopped: batch "
            f"{dose.batch.code} recalled. The course continues only from another batch on "
            "a named physician's order.",
            href=reverse("dosing:patient-detail", args=[dose.patient.code]),
            urgent=True,
        )


def reaction_report_section(user, *, now: datetime.datetime):
    """Serious, at least possibly related events whose part A is overdue."""
    for event in overdue_reactions(user, now=now):
        yield notices.Notice(
            f"Patient {event.patient.code}: serious adverse reaction of "
            f"{fmt_time(event.onset_at)} ({event.causality}) — notification part A overdue.",
            href=reverse("vigilance:part-a", args=[event.pk]),
            deadline=report_deadline(event),
            urgent=True,
        )


def expiring_stock_section(user, *, now: datetime.datetime):
    """The reader's available bags expiring within `EXPIRY_WARNING_DAYS`, one line a
    batch (one query)."""
    rows = (
        expiring_stock(user, on_date=timezone.localdate(now))
        .order_by()
        .values("batch__din", "batch__din_check", "batch__expires_on")
        .annotate(bags=Count("pk"))
        .order_by("batch__expires_on", "batch__din")
    )
    for row in rows:
        expires_on = row["batch__expires_on"]
        yield notices.Notice(
            f"{row['bags']} available bag(s) of batch "
            f"{row['batch__din']}{row['batch__din_check']} expire on {expires_on.isoformat()}.",
            deadline=timezone.make_aware(datetime.datetime.combine(expires_on, datetime.time.max)),
        )


def register_notice_sections() -> None:
    notices.register(notices.RECALLS, recall_section)
    notices.register(notices.REACTION_REPORTS, reaction_report_section)
    notices.register(notices.EXPIRING_STOCK, expiring_stock_section)
