"""The synthetic network of `benchmarks.run --scale S`: the demo's records, cloned.

The demo (`seed_demo`) is made through the real services: users, sites and memberships,
the specification and protocol, donors, released and rejected batches with their checks
and QP signatures, bags shipped and received at the hospitals, patients with their
records, doses allocated, prepared, dispensed and infused. Those records are the shape;
`build_network(scale)` copies them with `bulk_create` through the audited managers
(`AuditedQuerySet.bulk_create` appends one event per row to the chain), so every row is
one the services made, with new codes and shifted dates:

- a *unit* is the demo's production (5 donors, their procurements, serology, 6 decided
  batches and their checks; the batch still in quarantine, with anything dated after
  2020, is left out) plus `COPIES` copies of everything downstream (bags, storage, custody
  events, shipments, patients and their records, doses and their bags, preparations,
  infusions, bedside scans) and one *stock* copy: bags shipped and received at the
  hospitals like the others but not yet used (available in the hospital's store), plus
  `FILLER_BATCHES` more released batches per unit with bags in the facilities' tanks;
- unit k is shifted by k × step days (whole days, so the order of every record's dates
  is the demo's), the last unit ending before today; DINs, bag codes, shipment and patient
  codes are rewritten per copy, and every text that names one (notes, scans, positions)
  with them;
- each copied batch's QP signature is made again over its own record
  (`Batch.signature_content()`, the bags included) with its "sign" event, as `sign()` does.

Scale 1 (with the demo itself): 2,005 donors, 4,007 batches, 199,274 bags, 20,813 patients,
40,025 doses, about 2 million audit events.
"""

from __future__ import annotations

import datetime
import time

from django.db import transaction
from django.utils import timezone

from benchmarks.template import USED, Copy, Template, clone, stock_events

UNITS_AT_SCALE_1 = 400  # 5 donors each: 2,000 donors
COPIES = 4  # downstream copies per unit: 13 patients, 25 doses each
FILLER_BATCHES = 4
FILLER_BAGS = 42
CHUNK_UNITS = 10
DIVISIONS = [f"{chr(65 + n // 10)}{n % 10}" for n in range(260)]
# What a stock copy keeps: the bags and their way to the hospital, no patient.
STOCK_MODELS = ("batches.StorageLocation", "batches.Bag", "batches.BagEvent")
STOCK_MODELS += ("batches.Shipment", "batches.ShipmentBag")


def _new_din(batch, k: int, index: int, delta) -> str:
    from batches.isbt import make_din

    year = (batch.procurement.procured_on + delta).year
    return make_din(batch.facility.fin, year, 200_000 + k * 16 + index)


def _deltas(template: Template, units: int) -> list[datetime.timedelta]:
    today = timezone.localdate()
    span = (today - datetime.timedelta(days=30) - template.latest).days
    step = max(0, min(7, span // max(units, 1)))
    return [datetime.timedelta(days=step * k) for k in range(units)]


def _production(template: Template, k: int, delta) -> tuple[Copy, dict]:
    from batches.isbt import iso7064_mod37_2

    codes = {}
    for donor in template.rows["batches.Donor"]:
        codes[donor.code] = f"{donor.code}-{k:05d}"
    for index, batch in enumerate(template.rows["batches.Batch"]):
        din = _new_din(batch, k, index, delta)
        codes[batch.code] = din + iso7064_mod37_2(din)
        codes[batch.din] = din
    return Copy(template, k, "A", delta, codes), codes


def _downstream(template: Template, k: int, j, delta, production_codes: dict) -> Copy:
    codes = dict(production_codes)
    n = COPIES + 1
    for bag in template.rows["batches.Bag"]:
        offset = (j if j != "S" else COPIES) * template.per_batch
        division = DIVISIONS[offset + template.bag_index[bag.pk]]
        batch_code = production_codes[bag.batch.code]
        codes[bag.code] = f"{batch_code}-{bag.product_code}-{division}"
    number = (k * n + (j if j != "S" else COPIES)) * 100
    for shipment in template.rows["batches.Shipment"]:
        prefix, _, last = shipment.code.rpartition("-")
        codes[shipment.code] = f"{prefix}-{number + int(last):06d}"
    for patient in template.rows.get("patients.Patient", []):
        prefix, _, rest = patient.code.partition("-")
        codes[patient.code] = f"{prefix}-{rest}X{k:05d}{j}"
    return Copy(template, k, j, delta, codes)


def _overrides(label: str, row, copy: Copy, maps: dict) -> dict:
    t = copy.t
    if label == "batches.Batch":
        din = copy.codes[row.din]
        return {"din": din, "din_check": copy.codes[row.code][len(din) :]}
    if label == "batches.Bag":
        code = copy.codes[row.code]
        extra = {"code": code, "division": code.rsplit("-", 1)[1]}
        if copy.j == "S" and row.status in USED and row.pk in t.received_at:
            # Stock: received at the hospital, still in its store.
            extra["status"] = "available"
            extra["location"] = maps["batches.StorageLocation"][t.received_at[row.pk]]
        return extra
    if label == "batches.StorageLocation":
        return {"rack": f"{row.rack}.{copy.k}.{copy.j}"}
    return {}


def _create(model, objs: list) -> None:
    if objs:
        model.objects.bulk_create(objs, batch_size=2000)


def _build_units(template: Template, units: range, deltas, kept_events) -> None:
    copies = []  # (Copy, maps) per downstream copy
    sign_batches = []
    with transaction.atomic():
        maps_a = {}
        for k in units:
            copy, codes = _production(template, k, deltas[k])
            maps_a[k] = ({}, copy, codes)
        for model in template.order:
            label = model._meta.label
            if template.level[label] != "A":
                continue
            objs, pairs = [], []
            for k in units:
                maps, copy, _ = maps_a[k]
                for row in template.rows[label]:
                    obj = clone(row, copy, maps, _overrides(label, row, copy, maps))
                    objs.append(obj)
                    pairs.append((maps, row.pk, obj))
            _create(model, objs)
            for maps, pk, obj in pairs:
                maps.setdefault(label, {})[pk] = obj
        # Downstream copies, the stock copy, then the filler batches.
        for k in units:
            maps, _, codes = maps_a[k]
            for j in [*range(COPIES), "S"]:
                copies.append((_downstream(template, k, j, deltas[k], codes), dict(maps)))
        for model in template.order:
            label = model._meta.label
            if template.level[label] != "B":
                continue
            objs, pairs = [], []
            for copy, maps in copies:
                if copy.j == "S" and label not in STOCK_MODELS:
                    continue
                for row in template.rows[label]:
                    if copy.j == "S" and label == "batches.BagEvent" and row.pk not in kept_events:
                        continue
                    obj = clone(row, copy, maps, _overrides(label, row, copy, maps))
                    objs.append(obj)
                    pairs.append((maps, row.pk, obj))
            _create(model, objs)
            for maps, pk, obj in pairs:
                maps.setdefault(label, {})[pk] = obj
        for k in units:
            maps, copy, _ = maps_a[k]
            sign_batches += [
                (maps["batches.Batch"][b.pk], b.pk, deltas[k])
                for b in template.rows["batches.Batch"]
            ]
            sign_batches += _filler(template, k, deltas[k], maps)
        _sign(template, sign_batches)


def _filler(template: Template, k: int, delta, maps: dict) -> list:
    """`FILLER_BATCHES` released batches of unit k with `FILLER_BAGS` bags in the tank."""
    from batches.isbt import iso7064_mod37_2
    from batches.models import Bag, BagEvent, Batch, Procurement, ReleaseCheck, StorageLocation

    tb, tbag = template.filler_batch, template.filler_bag
    base = len(template.rows["batches.Batch"])
    batches, procurements, copies = [], [], []
    for n in range(FILLER_BATCHES):
        din = _new_din(tb, k, base + n, delta)
        code = din + iso7064_mod37_2(din)
        codes = {tb.code: code, tb.din: din}
        copy = Copy(template, k, f"F{n}", delta, codes)
        procurement = clone(tb.procurement, copy, maps, {})
        procurements.append(procurement)
        copies.append((copy, din, code, procurement))
    _create(Procurement, procurements)
    for copy, din, code, procurement in copies:
        batches.append(
            clone(
                tb,
                copy,
                maps,
                {"din": din, "din_check": code[len(din) :], "procurement": procurement},
            )
        )
    _create(Batch, batches)
    checks = [
        clone(check, copy, {**maps, "batches.Batch": {tb.pk: batch}}, {})
        for (copy, *_), batch in zip(copies, batches, strict=True)
        for check in template.rows["batches.ReleaseCheck"]
        if check.batch_id == tb.pk
    ]
    _create(ReleaseCheck, checks)
    events_of = [e for e in template.rows["batches.BagEvent"] if e.bag_id == tbag.pk]
    locations, bags = [], []
    for (copy, _din, code, _p), batch in zip(copies, batches, strict=True):
        for i in range(FILLER_BAGS):
            location = clone(
                tbag.location,
                copy,
                maps,
                {"rack": f"{tbag.location.rack}.{k}.{copy.j}", "position": str(i + 1)},
            )
            locations.append(location)
            division = DIVISIONS[i]
            bag_code = f"{code}-{tbag.product_code}-{division}"
            copy.codes[tbag.code] = bag_code
            bags.append(
                (
                    copy,
                    bag_code,
                    clone(
                        tbag,
                        copy,
                        maps,
                        {
                            "batch": batch,
                            "code": bag_code,
                            "division": division,
                            "location": location,
                        },
                    ),
                )
            )
    _create(StorageLocation, locations)
    _create(Bag, [bag for _c, _code, bag in bags])
    events = []
    for copy, bag_code, bag in bags:
        copy = Copy(template, k, copy.j, delta, {**copy.codes, tbag.code: bag_code})
        for event in events_of:
            events.append(clone(event, copy, {**maps, "batches.Bag": {tbag.pk: bag}}, {}))
    _create(BagEvent, events)
    return [(batch, tb.pk, delta) for batch in batches]


def _sign(template: Template, batches: list) -> None:
    """Each copied batch's QP signature, over its own record, and its "sign" event."""
    from audit.context import Origin, audit_context
    from audit.models import Signature
    from audit.signatures import SIGNED, content_hash
    from audit.writer import write_event
    from batches.models import Batch
    from batches.services.signed_record import KEPT_REASON

    by_pk = (
        Batch._base_manager.select_related("donor", "procurement", "facility", "specification")
        .prefetch_related("checks__item", "bags")
        .in_bulk([b.pk for b, _, _ in batches])
    )
    signatures, contents = [], []
    for batch, template_pk, delta in batches:
        fresh = by_pk[batch.pk]
        content = fresh.signature_content(
            checks=fresh.checks.all(),
            bags=[(b.code, b.nominal_cells, b.volume_ml) for b in fresh.bags.all()],
        )
        for sig in template.signatures[template_pk]:
            digest = content_hash(content)
            signatures.append(
                Signature(
                    signer=sig.signer,
                    printed_name=sig.printed_name,
                    signed_at=sig.signed_at + delta,
                    meaning=sig.meaning,
                    object_type=sig.object_type,
                    object_id=str(batch.pk),
                    content_hash=digest,
                    comment=sig.comment,
                )
            )
            contents.append((fresh, sig, digest))
        # The batch keeps the hash of its record, as a release does (the calculator
        # compares the signature with it); derived, so it writes no audit event.
        fresh.record_hash = content_hash(content)
        with audit_context(actor=None, reason=KEPT_REASON, origin=Origin.SYSTEM):
            fresh.save(update_fields=["record_hash"])
    Signature.objects.bulk_create(signatures, batch_size=2000)
    for signature, (batch, sig, digest) in zip(signatures, contents, strict=True):
        write_event(
            action=SIGNED,
            object_type="batches.batch",
            object_id=str(batch.pk),
            object_repr=batch.code,
            changes={
                "signature": [None, signature.pk],
                "meaning": [None, sig.meaning],
                "printed_name": [None, sig.printed_name],
                "content_hash": [None, digest],
            },
            reason=sig.comment,
            actor=sig.signer,
        )


def units_for(scale: float) -> int:
    """How many copies of the demo's production make a network of `scale` (at least 1)."""
    return max(1, round(UNITS_AT_SCALE_1 * scale))


def build_network(scale: float, *, log=print) -> dict:
    """Seed the demo (real services), then copy it to `scale`; returns counts and times."""
    from django.core.management import call_command

    from audit.context import Origin, audit_context

    started = time.perf_counter()
    call_command("seed_demo", stdout=_Quiet())
    seeded = time.perf_counter() - started
    template = Template()
    units = units_for(scale)
    deltas = _deltas(template, units)
    kept_events = stock_events(template)
    with audit_context(actor=None, reason="benchmark network", origin=Origin.COMMAND):
        for first in range(0, units, CHUNK_UNITS):
            _build_units(
                template, range(first, min(units, first + CHUNK_UNITS)), deltas, kept_events
            )
            done = min(units, first + CHUNK_UNITS)
            log(f"  units {done}/{units} ({time.perf_counter() - started:.0f} s)")
    return {"units": units, "seed_s": seeded, "build_s": time.perf_counter() - started, **counts()}


def counts() -> dict:
    from audit.models import AuditEvent
    from batches.models import Bag, Batch, Donor
    from dosing.models import Dose
    from patients.models import Patient

    return {
        "donors": Donor._base_manager.count(),
        "batches": Batch._base_manager.count(),
        "bags": Bag._base_manager.count(),
        "patients": Patient._base_manager.count(),
        "doses": Dose._base_manager.count(),
        "audit_events": AuditEvent.objects.count(),
    }


class _Quiet:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass
