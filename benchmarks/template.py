"""The shape the benchmark network copies: the demo's records, read once.

`Template` holds the rows of every audited model of production and the clinic (the demo's
batch still in quarantine, and anything dated from 2021, left out), the shared records
they point to (sites, users, specification, protocol), and what the copies need to know
(each bag's place in its batch, where used bags were received). `Copy` is one copy's code
map and date shift; `clone()` makes one row's copy (see `benchmarks.network`).
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict

from django.apps import apps
from django.db import models

CUTOFF = datetime.date(2021, 1, 1)
PRODUCTION = ("batches.Donor", "batches.SerologyResult", "batches.Procurement", "batches.Batch")
PRODUCTION += ("batches.ReleaseCheck",)
DOWNSTREAM_APPS = ("batches", "patients", "dosing")
NOT_CLONED = (
    "batches.ReleaseSpecification",
    "batches.SpecificationItem",
    "batches.AssayMethod",
    "batches.ShipmentRequest",
    "dosing.Protocol",
)
# What a stock copy keeps: the bags and their way to the hospital, no patient.
USED = ("reserved", "thawed", "in_refresh", "dispensed", "infused")


def _recorded(field) -> bool:
    """A field that says when the row was written (auto_now_add or default now)."""
    return (
        field.auto_now or field.auto_now_add or (field.has_default() and callable(field.default))
    )


def _day(value):
    return value.date() if isinstance(value, datetime.datetime) else value


class Template:
    """The demo's records to copy, read once: rows by model, in dependency order."""

    def __init__(self):
        from audit.audited import AuditedModel
        from audit.models import Signature
        from batches.models import Bag, Batch, ShipmentBag

        cloned = [
            m
            for m in apps.get_models()
            if issubclass(m, AuditedModel)
            and m._meta.app_label in DOWNSTREAM_APPS
            and m._meta.label not in NOT_CLONED
        ]
        self.order = _topological(cloned)
        self.rows: dict[str, list] = {}
        excluded: dict[str, set] = defaultdict(set)
        latest = datetime.date(2000, 1, 1)
        for model in self.order:
            label = model._meta.label
            keep = []
            for row in model._base_manager.order_by("pk"):
                dates = [
                    _day(getattr(row, f.attname))
                    for f in model._meta.concrete_fields
                    if isinstance(f, models.DateField)
                    and not _recorded(f)
                    and f.name != "expires_on"
                    and getattr(row, f.attname) is not None
                ]
                gone = any(d >= CUTOFF for d in dates) or any(
                    getattr(row, f.attname) in excluded[f.related_model._meta.label]
                    for f in model._meta.concrete_fields
                    if f.is_relation
                )
                if label == "batches.Batch" and row.status not in ("released", "rejected"):
                    gone = True
                if gone:
                    excluded[label].add(row.pk)
                    continue
                keep.append(row)
                latest = max([latest, *dates])
            self.rows[label] = keep
        self.latest = latest
        self.level = {m._meta.label: ("A" if m._meta.label in PRODUCTION else "B") for m in cloned}
        self.models = {m._meta.label: m for m in cloned}
        # Shared records (sites, users, specification, protocol): loaded once.
        self.shared: dict[str, dict] = {}
        for model in {
            f.related_model for m in cloned for f in m._meta.concrete_fields if f.is_relation
        }:
            if model._meta.label not in self.level:
                self.shared[model._meta.label] = model._base_manager.in_bulk()
        # Bags: their position in their batch (for new divisions), the receipt of used ones.
        self.bag_index = {}
        by_batch = defaultdict(list)
        for bag in self.rows["batches.Bag"]:
            by_batch[bag.batch_id].append(bag)
        for bags in by_batch.values():
            for n, bag in enumerate(sorted(bags, key=lambda b: b.code)):
                self.bag_index[bag.pk] = n
        self.per_batch = max(len(b) for b in by_batch.values())
        self.received_at = {
            item.bag_id: item.received_location_id
            for item in ShipmentBag._base_manager.filter(received_location__isnull=False)
        }
        self.signatures = defaultdict(list)
        for sig in Signature.objects.filter(object_type="batches.batch").order_by("pk"):
            self.signatures[int(sig.object_id)].append(sig)
        # The filler's shape: a released batch with a bag still in its facility's tank.
        stocked = Bag._base_manager.filter(
            status="available",
            batch__status=Batch.Status.RELEASED,
            location__facility__isnull=False,
            batch_id__in=[b.pk for b in self.rows["batches.Batch"]],
        ).order_by("pk")
        self.filler_bag = stocked.first()
        self.filler_batch = next(
            b for b in self.rows["batches.Batch"] if b.pk == self.filler_bag.batch_id
        )
        self.text_fields = {
            label: [
                f
                for f in self.models[label]._meta.concrete_fields
                if isinstance(f, (models.CharField, models.TextField)) and not f.choices
            ]
            for label in self.level
        }


def _topological(cloned):
    labels = {m._meta.label for m in cloned}
    done, order = set(), []
    pending = list(cloned)
    while pending:
        for model in pending:
            deps = {
                f.related_model._meta.label
                for f in model._meta.concrete_fields
                if f.is_relation and f.related_model._meta.label in labels
            } - {model._meta.label}
            if deps <= done:
                order.append(model)
                done.add(model._meta.label)
                pending.remove(model)
                break
        else:
            raise RuntimeError(f"circular foreign keys among {pending}")
    return order


class Copy:
    """One copy of the template: unit k, downstream copy j ('A' for production, 'S' for
    stock, 'F<n>' for a filler batch), with its code map and its date shift."""

    def __init__(self, template: Template, k: int, j, delta: datetime.timedelta, codes: dict):
        self.t, self.k, self.j, self.delta, self.codes = template, k, j, delta, codes
        self.pattern = (
            re.compile(
                r"(?<![A-Z0-9])("
                + "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True))
                + r")(?![A-Z0-9])"
            )
            if codes
            else None
        )

    def text(self, value: str) -> str:
        if not value or self.pattern is None:
            return value
        return self.pattern.sub(lambda m: self.codes[m.group(1)], value)


def clone(row, copy: Copy, maps: dict, overrides: dict):
    """An unsaved copy of `row`: foreign keys to copied rows remapped, dates shifted,
    codes in texts rewritten, then `overrides`."""
    model = type(row)
    label = model._meta.label
    values = {}
    for f in model._meta.concrete_fields:
        if f.primary_key or f.name in overrides:
            continue
        value = getattr(row, f.attname)
        if f.is_relation:
            target = f.related_model._meta.label
            if value is None:
                values[f.name] = None
            elif target in maps:
                values[f.name] = maps[target][value]
            else:
                values[f.name] = copy.t.shared[target][value]
            continue
        if isinstance(f, models.DateField):
            if _recorded(f):
                continue  # when the copy was recorded: now, as for the demo's rows
            if value is not None:
                value = value + copy.delta
        elif f in copy.t.text_fields[label] and isinstance(value, str):
            value = copy.text(value)
        values[f.name] = value
    values.update(overrides)
    return model(**values)


def stock_events(template: Template):
    """Template bag events a stock copy keeps: for used bags, up to their receipt."""
    keep = set()
    by_bag = defaultdict(list)
    for event in template.rows["batches.BagEvent"]:
        by_bag[event.bag_id].append(event)
    for bag_id, events in by_bag.items():
        events.sort(key=lambda e: (e.occurred_at, e.pk))
        if bag_id not in template.received_at:
            keep.update(e.pk for e in events)
            continue
        for event in events:
            keep.add(event.pk)
            if event.from_status == "in_transit":
                break
    return keep
