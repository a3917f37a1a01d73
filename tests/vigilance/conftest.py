"""Fixtures of vigilance: for the FHIR server, patients treated through the services,
token clients, and a crawler that reads a patient's record the way a hospital system
would; for a recall, its world: one batch given out at two hospitals, each dose at
another step, and a second batch for the course that continues."""

import datetime
import itertools
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from fhir.resources import get_fhir_model_class

from batches.models import Batch
from dosing import services
from dosing import services as dosing
from dosing.models import Dose
from sites.models import Hospital
from tests.api.conftest import token_client
from tests.dosing.flow import allocated, dispensed_thawed, hours, infuse, infused_thawed
from tests.factories import (
    HospitalFactory,
    PatientFactory,
    ProtocolFactory,
    receive_at,
    released_batch_with_bags,
)
from vigilance import services as vigilance

FHIR_BASE = "/api/fhir/"
# What points at a patient, and how each type is searched for it.
PATIENT_SEARCHES = (
    "BiologicallyDerivedProduct",
    "BiologicallyDerivedProductDispense",
    "Procedure",
    "AdverseEvent",
)


def treated_patient(pharmacist, clinician, *, start=None):
    """A patient with two doses from one fresh batch, each dispensed and infused (72 h
    apart), and an adverse event after the first."""
    start = start or timezone.now() - datetime.timedelta(days=5)
    released_batch_with_bags([75_000_000] * 3)
    patient = PatientFactory(weight_kg=78)
    first = infused_thawed(patient, pharmacist, clinician, at=start)
    infused_thawed(patient, pharmacist, clinician, at=start + hours(72))
    services.report_adverse_event(
        patient,
        actor=clinician,
        onset_at=first.infusion.started_at + datetime.timedelta(minutes=30),
        description="Transient fever after the infusion",
        ctcae_grade=1,
        serious=False,
        outcome="recovered",
        causality="possible",
        dose=first,
    )
    return patient


def treated_patients(count, pharmacist, clinician):
    ProtocolFactory()
    return [treated_patient(pharmacist, clinician) for _ in range(count)]


@pytest.fixture
def treated(db, pharmacist, clinician):
    """Two treated patients."""
    return treated_patients(2, pharmacist, clinician)


@pytest.fixture
def fhir_client(auditor):
    """A hospital system: an auditor's token (the network: an auditor of that hospital)."""
    return token_client(auditor)


class Reader:
    """GETs FHIR paths on the test client or over HTTP (`requests`), parses every answer
    with the R5 model its resourceType names, and keeps what it read by reference."""

    def __init__(self, get):
        self._get = get  # (path or absolute url) -> (status, content_type, body bytes)
        self.read: dict[str, object] = {}

    def fetch(self, path, expect=200):
        status, content_type, body = self._get(path)
        assert status == expect, (path, status, body[:500])
        assert content_type.startswith("application/fhir+json"), (path, content_type)
        data = json.loads(body)
        model = get_fhir_model_class(data["resourceType"]).model_validate(data)
        return model, data

    def search(self, resource_type, **params):
        """Every entry of the search, following `next` links to the end."""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        url = f"{FHIR_BASE}{resource_type}?{query}"
        entries = []
        while url:
            bundle, data = self.fetch(url)
            assert bundle.type == "searchset"
            entries.extend(entry.resource for entry in bundle.entry or [])
            url = next((link.url for link in bundle.link if link.relation == "next"), None)
        return entries

    def follow_references(self, data):
        """GET every literal reference in `data` (relative to the base): each a 200 with
        the type it names."""
        for ref in _references(data):
            if ref in self.read:
                continue
            model, body = self.fetch(FHIR_BASE + ref)
            assert f"{model.get_resource_type()}/{model.id}" == ref
            self.read[ref] = model
            self.follow_references(body)


def _references(data):
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(data, list):
        for item in data:
            yield from _references(item)


def client_reader(client) -> Reader:
    def get(path):
        response = client.get(path)
        return response.status_code, response["Content-Type"], response.content

    return Reader(get)


def http_reader(base_url, token) -> Reader:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    session.headers["Accept"] = "application/fhir+json"

    def get(path):
        url = path if urlsplit(path).scheme else base_url + path
        response = session.get(url, timeout=30)
        return response.status_code, response.headers["Content-Type"], response.content

    return Reader(get)


# A recall's world.
@dataclass
class World:
    hus: Hospital
    hgm: Hospital
    batch: Batch
    other: Batch
    infused: Dose  # dose 1 of a patient at HUS, infused 72 h ago (mid-course)
    infused_hgm: Dose  # dose 1 of a patient at HGM, infused
    dispensed: Dose  # at HUS, dispensed to the ward
    dispensed_hgm: Dose  # at HGM
    prepared: Dose  # at HGM, thawed in the pharmacy
    allocated: Dose  # at HUS, bags reserved
    ordered: Dose  # at HGM, no bags yet
    unrelated: Dose  # infused at HUS from the other batch


_patient_numbers = itertools.count(1)


def hospitals():
    """HUS (the role fixtures' hospital) and a second one, HGM, both of the network."""
    return (
        HospitalFactory(),
        HospitalFactory(code="HGM", name="Hospital General Universitario Gregorio Marañón"),
    )


def patient_at(hospital):
    code = f"{hospital.patient_code_prefix}-R{next(_patient_numbers):03d}"
    return PatientFactory(code=code, hospital=hospital, weight_kg=78)


@pytest.fixture
def world(db, pharmacist, clinician):
    ProtocolFactory()
    HUS, HGM = hospitals()
    now = timezone.now()
    batch, bags = released_batch_with_bags(
        [75_000_000] * 10, expires_on=datetime.date(2099, 1, 1), hospital=None
    )
    receive_at(bags[:5], HUS, at=now - hours(24 * 10))
    receive_at(bags[5:], HGM, at=now - hours(24 * 10))
    infused = infused_thawed(patient_at(HUS), pharmacist, clinician, at=now - hours(72))
    infused_hgm = infused_thawed(patient_at(HGM), pharmacist, clinician, at=now - hours(5))
    dispensed = dispensed_thawed(patient_at(HUS), pharmacist, at=now - hours(0.5))
    dispensed_hgm = dispensed_thawed(patient_at(HGM), pharmacist, at=now - hours(0.5))
    prepared = allocated(patient_at(HGM), pharmacist, at=now - hours(0.5))
    dosing.record_thaw(prepared, actor=pharmacist, at=now - hours(0.4))
    allocated_dose = allocated(patient_at(HUS), pharmacist)
    ordered = dosing.order_dose(patient_at(HGM), actor=pharmacist)
    # The other batch expires later, so no dose above came from it.
    other, other_bags = released_batch_with_bags(
        [75_000_000] * 6, expires_on=datetime.date(2099, 6, 1), hospital=None
    )
    receive_at(other_bags, HUS, at=now - hours(24 * 10))
    unrelated_patient = patient_at(HUS)
    unrelated = dosing.order_dose(unrelated_patient, actor=pharmacist, at=now - hours(3))
    dosing.allocate_dose(
        unrelated,
        actor=pharmacist,
        bags=list(other.bags.order_by("code")[:1]),
        choice_reason="test: the other batch",
        at=now - hours(3),
    )
    dosing.record_thaw(unrelated, actor=pharmacist, at=now - hours(3) + hours(0.1))
    dosing.dispense_dose(unrelated, actor=pharmacist, at=now - hours(3) + hours(0.15))
    infuse(unrelated, clinician, now - hours(3) + hours(0.2))
    for dose in (infused, infused_hgm, dispensed, dispensed_hgm, prepared, allocated_dose):
        dose.refresh_from_db()
        assert dose.batch == batch, dose
    return World(
        hus=HUS,
        hgm=HGM,
        batch=batch,
        other=other,
        infused=infused,
        infused_hgm=infused_hgm,
        dispensed=dispensed,
        dispensed_hgm=dispensed_hgm,
        prepared=prepared,
        allocated=allocated_dose,
        ordered=ordered,
        unrelated=unrelated,
    )


@pytest.fixture
def recall(world, qp_user, password, django_capture_on_commit_callbacks):
    """The QP recalls the batch (the mails go out as the transaction commits)."""
    with django_capture_on_commit_callbacks(execute=True):
        return vigilance.recall_batch(
            world.batch, actor=qp_user, password=password, reason="sterility test positive"
        )
