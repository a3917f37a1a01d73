"""Bags as `BiologicallyDerivedProduct`, dispensed bags as `BiologicallyDerivedProductDispense`.

Each builder takes a row loaded with what it reads (see `vigilance.fhir.search`, which
selects it) and returns the R5 model: `fhir.resources` validates every element on
construction, so a resource that is not R5 never leaves the server. docs/fhir.md maps
each element to its CellTrack field.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from fhir.resources.biologicallyderivedproduct import BiologicallyDerivedProduct
from fhir.resources.biologicallyderivedproductdispense import BiologicallyDerivedProductDispense

from vigilance.fhir import identity as ids
from vigilance.fhir.roles import performer

# The product every bag holds (ISBT 128-style: CellTrack's product codes are configurable
# and not ICCBBA's, so the code system is CellTrack's own).
PRODUCT_DESCRIPTION = "AT-MSC, allogeneic, cryopreserved, volunteer donor"
# Every position is in the vapour phase of a liquid-nitrogen tank: -150 °C or colder
# (the bag label prints the same requirement).
STORAGE_MAX_C = -150

# The R5 product status has two codes: only an available bag can still be issued.
_AVAILABLE = "available"


def _celsius(value: int) -> dict:
    return {"value": value, "unit": "°C", "system": ids.UCUM, "code": "Cel"}


def _quantity(value, unit: str, code: str) -> dict:
    return {"value": value, "unit": unit, "system": ids.UCUM, "code": code}


def _property(code: str, display: str, **value) -> dict:
    return {"type": {"coding": [ids.coding(ids.PROPERTY_SYSTEM, code, display)]}, **value}


def _on(day) -> dict:
    return {"start": day.isoformat(), "end": day.isoformat()}


def _processing(bag) -> list[dict]:
    """Bag contents and what manufacturing recorded (R5 has no `processing` element:
    these are `property` entries, each only when recorded)."""
    batch = bag.batch
    props = [
        _property(
            "nominal-cells",
            "Cells in the bag at cryopreservation",
            valueQuantity=_quantity(bag.nominal_cells, "cells", "{cells}"),
        ),
        _property("volume", "Volume", valueQuantity=_quantity(bag.volume_ml, "ml", "mL")),
        _property(
            "celltrack-status",
            "Status of the bag in CellTrack",
            valueCodeableConcept={
                "coding": [ids.coding(ids.BAG_STATUS_SYSTEM, bag.status, bag.get_status_display())]
            },
        ),
        _property("impd-reference", "IMPD reference", valueString=batch.impd_reference),
    ]
    if batch.passages is not None:
        props.append(_property("passages", "Passages", valueInteger=batch.passages))
    if batch.population_doublings is not None:
        props.append(
            _property(
                "population-doublings",
                "Population doublings",
                valueQuantity=_quantity(batch.population_doublings, "doublings", "1"),
            )
        )
    if batch.viability_pct is not None:
        props.append(
            _property(
                "viability-before-cryopreservation",
                "Viability before cryopreservation",
                valueQuantity=_quantity(batch.viability_pct, "%", "%"),
            )
        )
    if batch.cryopreserved_on is not None:
        props.append(
            _property("cryopreserved", "Cryopreserved", valuePeriod=_on(batch.cryopreserved_on))
        )
    return props


def bag_resource(bag) -> BiologicallyDerivedProduct:
    """A bag: `bag` with its batch, the batch's donor, procurement and facility."""
    batch = bag.batch
    facility = batch.facility
    return BiologicallyDerivedProduct(
        id=ids.bag_id(bag.code),
        identifier=[
            {"system": ids.BAG_SYSTEM, "value": bag.code},
            {"system": ids.DIN_SYSTEM, "value": batch.code},
        ],
        biologicalSourceEvent={"system": ids.DIN_SYSTEM, "value": batch.code},
        productCategory=ids.coding(ids.PRODUCT_CATEGORY_SYSTEM, "cells", "Cells"),
        productCode={
            "coding": [ids.coding(ids.PRODUCT_CODE_SYSTEM, bag.product_code, PRODUCT_DESCRIPTION)],
            "text": PRODUCT_DESCRIPTION,
        },
        productStatus=ids.coding(
            ids.PRODUCT_STATUS_SYSTEM,
            _AVAILABLE if bag.status == bag.Status.AVAILABLE else "unavailable",
        ),
        division=bag.division,
        collection={
            # The donor is known by the pseudonymous code only, and is not served here:
            # a logical reference (identifier), nothing to resolve.
            "source": {
                "type": "Patient",
                "identifier": {"system": ids.DONOR_SYSTEM, "value": batch.donor.code},
            },
            "collectedDateTime": batch.procurement.procured_on.isoformat(),
        },
        processingFacility=[
            {
                "type": "Organization",
                "identifier": {"system": ids.FACILITY_SYSTEM, "value": facility.fin},
                "display": facility.name,
            }
        ],
        storageTempRequirements={"high": _celsius(STORAGE_MAX_C)},
        expirationDate=batch.expires_on.isoformat() if batch.expires_on else None,
        property=_processing(bag),
    )


def dispense_status(link) -> str:
    """`issued` once handed to the ward; `returned` when the dose was cancelled after
    (its bags were then discarded, never given)."""
    return "returned" if link.dose.status == link.dose.Status.CANCELLED else "issued"


def _usage(dose, preparation) -> str:
    parts = [f"Dose {dose.number}"]
    if preparation is not None:
        parts.append(preparation.get_method_display())
        if preparation.premedication:
            parts.append(f"premedication: {preparation.premedication}")
    if dose.use_before:
        latest = timezone.localtime(dose.use_before).isoformat(timespec="minutes")
        parts.append(f"start the infusion before {latest}")
    return "; ".join(parts) + "."


def dispense_resource(link) -> BiologicallyDerivedProductDispense:
    """One bag of a dispensed dose: `link` (a DoseBag) with its bag and its dose, the
    dose's patient, preparation and dispensing user (with groups)."""
    dose, bag = link.dose, link.bag
    preparation = related_or_none(dose, "preparation")
    prepared = None
    if preparation is not None:
        prepared = preparation.harvested_at or preparation.thawed_at
    return BiologicallyDerivedProductDispense(
        id=ids.dispense_id(dose.pk, bag.product_code, bag.division),
        identifier=[{"system": ids.DOSE_SYSTEM, "value": dose.code}],
        status=dispense_status(link),
        patient=ids.reference("Patient", dose.patient.code),
        product=ids.reference("BiologicallyDerivedProduct", ids.bag_id(bag.code), bag.code),
        quantity=_quantity(link.cells, "cells", "{cells}"),
        preparedDate=prepared,
        whenHandedOver=dose.dispensed_at,
        usageInstruction=_usage(dose, preparation),
        performer=[performer(dose.dispensed_by)] if dose.dispensed_by_id else None,
    )


def related_or_none(obj, name: str):
    """A reverse one-to-one (loaded with select_related) or None when there is none."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None
