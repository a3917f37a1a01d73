"""What each resource type reads, and how its search parameters narrow it.

Every read starts from `Model.objects.for_user(user)` — and, where a row belongs to a
patient or a dose, from the patients and doses the user may see too — so a reader gets
exactly what their sites cover. Each type's queryset selects what its builder reads, so
a search page costs the same few queries however many rows it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet

from batches.models import Bag
from dosing.models import AdverseEvent, Dose, DoseBag, Infusion
from patients.models import Patient
from vigilance.fhir import identity as ids
from vigilance.fhir.clinical import adverse_event_resource, patient_resource, procedure_resource
from vigilance.fhir.products import bag_resource, dispense_resource

NOTHING = Q(pk__in=[])
# A dose's bags that are the patient's: those it holds (live), and those it had when it
# was dispensed and then cancelled (discarded at the ward, never given to anyone else).
HELD_FOR_PATIENT = Q(live=True) | Q(dose__dispensed_at__isnull=False)


class SearchError(ValueError):
    """A search parameter CellTrack cannot apply: answered 400 with this message."""


def _visible_patients(user, code: str) -> QuerySet:
    return Patient.objects.for_user(user).filter(code=code)


def _visible_doses(user) -> QuerySet:
    return Dose.objects.for_user(user)


def _given_bags() -> Prefetch:
    """The live bags of each row's dose (already selected), as `dose.given_bags`."""
    return Prefetch(
        "dose__dose_bags",
        queryset=DoseBag.objects.filter(live=True).select_related("bag").order_by("pk"),
        to_attr="given_bags",
    )


def _dose_code_q(value: str, prefix: str = "dose__") -> Q:
    """A dose code, `<patient code>/D<number>`."""
    patient, sep, number = value.rpartition("/D")
    if not sep or ids.pk_of(number) is None:
        return NOTHING
    return Q(**{f"{prefix}patient__code": patient, f"{prefix}number": int(number)})


def _ae_code_q(value: str) -> Q:
    patient, sep, pk = value.rpartition("/AE")
    if not sep or ids.pk_of(pk) is None:
        return NOTHING
    return Q(patient__code=patient, pk=ids.pk_of(pk))


def _din_q(value: str) -> Q:
    if len(value) != 14:
        return NOTHING
    return Q(batch__din=value[:13], batch__din_check=value[13:])


def _dispense_id_q(resource_id: str) -> Q:
    parts = ids.dispense_parts(resource_id)
    if parts is None:
        return NOTHING
    dose_pk, product_code, division = parts
    return Q(dose_id=dose_pk, bag__product_code=product_code, bag__division=division)


def _pk_q(resource_id: str, field: str = "pk") -> Q:
    pk = ids.pk_of(resource_id)
    return NOTHING if pk is None else Q(**{field: pk})


@dataclass(frozen=True)
class ResourceType:
    """A served resource type: its rows, how an id finds one, how each search
    parameter narrows them (`patient` gets the patient's code and the user)."""

    name: str
    rows: Callable[[object], QuerySet]
    by_id: Callable[[str], Q]
    identifiers: dict[str, Callable[[str], Q]]
    by_patient: Callable[[str, object], Q] | None
    build: Callable[[object], object]
    documentation: str

    @property
    def search_params(self) -> tuple[str, ...]:
        return ("_id", "identifier", *(("patient",) if self.by_patient else ()))


def _patients(user) -> QuerySet:
    return Patient.objects.for_user(user)


def _bags(user) -> QuerySet:
    return Bag.objects.for_user(user).select_related(
        "batch__donor", "batch__procurement", "batch__facility"
    )


def _dispenses(user) -> QuerySet:
    # The bags of the doses handed to the ward, the cancelled ones' too.
    return (
        DoseBag.objects.for_user(user)
        .filter(HELD_FOR_PATIENT, dose__in=_visible_doses(user), dose__dispensed_at__isnull=False)
        .select_related("bag", "dose__patient", "dose__preparation", "dose__dispensed_by")
        .prefetch_related("dose__dispensed_by__groups")
    )


def _infusions(user) -> QuerySet:
    return (
        Infusion.objects.for_user(user)
        .filter(dose__in=_visible_doses(user))
        .select_related("dose__patient", "infused_by")
        .prefetch_related(_given_bags(), "infused_by__groups")
    )


def _adverse_events(user) -> QuerySet:
    return (
        AdverseEvent.objects.for_user(user)
        .filter(patient__in=Patient.objects.for_user(user))
        .select_related("patient", "dose__patient", "dose__infusion")
        .prefetch_related(_given_bags())
    )


RESOURCE_TYPES = {
    rt.name: rt
    for rt in (
        ResourceType(
            name="Patient",
            rows=_patients,
            by_id=lambda rid: Q(code=rid),
            identifiers={ids.PATIENT_SYSTEM: lambda v: Q(code=v)},
            by_patient=None,
            build=patient_resource,
            documentation="A patient, by the pseudonymised code only (the id is the code).",
        ),
        ResourceType(
            name="BiologicallyDerivedProduct",
            rows=_bags,
            by_id=lambda rid: Q(code=ids.bag_code_of(rid)),
            identifiers={ids.BAG_SYSTEM: lambda v: Q(code=v), ids.DIN_SYSTEM: _din_q},
            by_patient=lambda code, user: Q(
                pk__in=DoseBag.objects.filter(
                    HELD_FOR_PATIENT,
                    dose__in=_visible_doses(user),
                    dose__patient__in=_visible_patients(user, code),
                ).values("bag_id")
            ),
            build=bag_resource,
            documentation="A bag; identifier: the full bag code or the batch's DIN; patient: "
            "the bags reserved for, dispensed to or given to the patient.",
        ),
        ResourceType(
            name="BiologicallyDerivedProductDispense",
            rows=_dispenses,
            by_id=_dispense_id_q,
            identifiers={ids.DOSE_SYSTEM: _dose_code_q},
            by_patient=lambda code, user: Q(dose__patient__in=_visible_patients(user, code)),
            build=dispense_resource,
            documentation="One bag of a dispensed dose; identifier: the dose code "
            "(<patient>/D<number>).",
        ),
        ResourceType(
            name="Procedure",
            rows=_infusions,
            by_id=lambda rid: _pk_q(rid, "dose_id"),
            identifiers={ids.DOSE_SYSTEM: _dose_code_q},
            by_patient=lambda code, user: Q(dose__patient__in=_visible_patients(user, code)),
            build=procedure_resource,
            documentation="The infusion of a dose; identifier: the dose code.",
        ),
        ResourceType(
            name="AdverseEvent",
            rows=_adverse_events,
            by_id=_pk_q,
            identifiers={ids.ADVERSE_EVENT_SYSTEM: _ae_code_q},
            by_patient=lambda code, user: Q(patient__in=_visible_patients(user, code)),
            build=adverse_event_resource,
            documentation="An adverse event with its suspect products and WHO-UMC causality.",
        ),
    )
}


def patient_code(value: str) -> str:
    """The patient id in a `patient`/`subject` value: `Patient/<id>`, a full URL ending
    so, or the bare id."""
    value = value.rsplit("Patient/", 1)[-1] if "Patient/" in value else value
    if not ids.ID_RE.match(value):
        raise SearchError(f"patient: {value!r} is not a Patient id or reference.")
    return value


def identifier_q(resource_type: ResourceType, value: str) -> Q:
    """`[system|]value`, several separated by commas (any of them matches). Without a
    system, every identifier system of the type is tried."""
    q = NOTHING
    for token in value.split(","):
        system, sep, code = token.rpartition("|")
        if not code:
            raise SearchError("identifier: give a value, as [system|]value.")
        if not sep:
            systems = resource_type.identifiers.values()
        else:
            systems = (
                [resource_type.identifiers[system]] if system in resource_type.identifiers else []
            )
        for lookup in systems:
            q |= lookup(code)
    return q


def search_filter(resource_type: ResourceType, params: dict[str, str], user) -> Q:
    """The filter of the given search parameters (already checked to be known, once each)."""
    q = Q()
    if "_id" in params:
        id_q = NOTHING
        for rid in params["_id"].split(","):
            id_q |= resource_type.by_id(rid) if ids.ID_RE.match(rid) else NOTHING
        q &= id_q
    if "identifier" in params:
        q &= identifier_q(resource_type, params["identifier"])
    if "patient" in params:
        q &= resource_type.by_patient(patient_code(params["patient"]), user)
    return q
