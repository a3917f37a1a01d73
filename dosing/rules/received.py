"""Received stock: a bag is usable at a hospital only once received there in good
condition (shipped from its facility, logger in range, put in the hospital's storage).

Pure: the caller passes the hospital each bag's storage position belongs to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dosing.rules.base import Failure


def received_failures(
    bags: Sequence, *, hospital, location_hospitals: Mapping[int, int | None]
) -> list[Failure]:
    """Each bag not stored at `hospital` (`location_hospitals`: storage position id → the
    hospital it belongs to, None at a facility)."""
    return [
        Failure(
            f"Bag {bag.code} has not been received at {hospital.code}: only bags received "
            "in range at the patient's hospital may be allocated there. Ask its facility "
            "for a shipment."
        )
        for bag in bags
        if bag.location_id is None or location_hospitals.get(bag.location_id) != hospital.pk
    ]
