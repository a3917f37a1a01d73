"""Fixtures for the FHIR server: patients treated through the services, token clients,
and a crawler that reads a patient's record the way a hospital system would."""

import datetime
import json
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from fhir.resources import get_fhir_model_class

from dosing import services
from tests.api.conftest import token_client
from tests.dosing.flow import hours, infused_thawed
from tests.factories import PatientFactory, ProtocolFactory, released_batch_with_bags

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
