"""Bags already on their way to a patient when shipments came: each gets a receipt at
its dose's patient's hospital, marked as recorded before shipments existed.

Shipments (batches 0006) make a bag usable at a hospital only once received there. Bags
already reserved, thawed, in refresh culture, dispensed or infused were allocated before
that rule: one received shipment per (facility, hospital) pair records where they went,
dated at the first reservation among them, with no shipper, logger or people (none are
known) and `recorded_before_shipments` set. Their storage positions are left as they
were. Reversing removes those receipts.
"""

from django.db import migrations

ON_THEIR_WAY = ("reserved", "thawed", "in_refresh", "dispensed", "infused")
NOTE = "Recorded before shipments existed: the bag was already allocated to this hospital."


def receipts_before_shipments(apps, schema_editor):
    DoseBag = apps.get_model("dosing", "DoseBag")
    Shipment = apps.get_model("batches", "Shipment")
    ShipmentBag = apps.get_model("batches", "ShipmentBag")
    groups: dict[tuple[int, int], dict] = {}
    links = (
        DoseBag.objects.filter(bag__status__in=ON_THEIR_WAY)
        .select_related("bag__batch__facility", "dose__patient__hospital")
        .order_by("bag_id", "-live", "-reserved_at")
    )
    seen = set()
    for link in links:
        if link.bag_id in seen:
            continue  # the bag's live (else latest) reservation decides its hospital
        seen.add(link.bag_id)
        facility, hospital = link.bag.batch.facility, link.dose.patient.hospital
        group = groups.setdefault(
            (facility.pk, hospital.pk),
            {"facility": facility, "hospital": hospital, "bags": [], "at": link.reserved_at},
        )
        group["bags"].append(link.bag)
        group["at"] = min(group["at"], link.reserved_at)
    for group in groups.values():
        facility, hospital = group["facility"], group["hospital"]
        shipment = Shipment.objects.create(
            code=f"PRE-{facility.fin}-{hospital.code}",
            facility=facility,
            hospital=hospital,
            status="received",
            created_at=group["at"],
            dispatched_at=group["at"],
            received_at=group["at"],
            logger_result="in_range",
            receipt_note=NOTE,
            recorded_before_shipments=True,
        )
        ShipmentBag.objects.bulk_create(
            ShipmentBag(shipment=shipment, bag=bag, open=False) for bag in group["bags"]
        )


def remove_receipts(apps, schema_editor):
    Shipment = apps.get_model("batches", "Shipment")
    ShipmentBag = apps.get_model("batches", "ShipmentBag")
    ShipmentBag.objects.filter(shipment__recorded_before_shipments=True).delete()
    Shipment.objects.filter(recorded_before_shipments=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dosing", "0004_protocol_recency_and_expansion"),
        ("batches", "0007_shipments_and_requests"),
        ("patients", "0002_hospital_is_a_site"),
    ]

    operations = [migrations.RunPython(receipts_before_shipments, remove_receipts)]
