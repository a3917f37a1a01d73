"""Every page, admin URL and API endpoint, walked as users of two hospitals and two GMP
facilities: each sees its own site's records and answers 404 for the other's.

The routes come from the URL resolver and the admin's registry, so a new route or admin
without an entry here fails `test_every_route_is_walked` until it is added.
"""

import datetime
import re

import pytest
from django.contrib import admin
from django.urls import get_resolver
from django.urls.resolvers import URLPattern, URLResolver
from django.utils import timezone

from batches.models import Shipment
from dosing import services as dosing_services
from tests.api.conftest import token_client
from tests.conftest import _default_facility, _default_hospital, role_user
from tests.dosing.flow import infused_thawed
from tests.factories import (
    FacilityFactory,
    HospitalFactory,
    PatientFactory,
    ProtocolFactory,
    ReleaseCheckFactory,
    released_batch_with_bags,
)
from vigilance.fhir import identity as fhir_ids

pytestmark = pytest.mark.django_db

HOSPITALS = ("HUS", "FJD")
FACILITIES = ("E0001", "E0002")


class Site:
    """The records of one site, and its users by role."""

    def __init__(self, code):
        self.code = code
        self.users = {}
        self.records = {}


def _hospital_site(hospital, facility, number):
    site = Site(hospital.code)
    low = hospital.code.lower()
    site.users = {
        role: role_user(f"{role}-{low}", role, hospital)
        for role in ("pharmacy", "clinician", "auditor")
    }
    batch, (bag,) = released_batch_with_bags(
        [75_000_000], facility=facility, din=f"{facility.fin}26{number:06d}", hospital=hospital
    )
    patient = PatientFactory(code=f"{hospital.patient_code_prefix}-P0{number}", hospital=hospital)
    dose = infused_thawed(
        patient,
        site.users["pharmacy"],
        site.users["clinician"],
        at=timezone.now() - datetime.timedelta(hours=3),
    )
    event = dosing_services.report_adverse_event(
        patient,
        actor=site.users["clinician"],
        onset_at=timezone.now() - datetime.timedelta(hours=1),
        description="transient fever",
        ctcae_grade=1,
        serious=False,
        outcome="recovered",
        causality="possible",
        dose=dose,
    )
    site.records = {
        "patient": patient.code,
        "dose": dose.pk,
        "infusion": dose.infusion.pk,
        "adverse_event": event.pk,
        "bag": bag.code,
        "batch": batch.code,
        "hospital_location": bag.location_id,
        "shipment": Shipment.objects.filter(hospital=hospital).values_list("code", flat=True)[0],
    }
    return site


def _facility_site(facility, number):
    site = Site(facility.fin)
    low = facility.fin.lower()
    site.users = {
        role: role_user(f"{role}-{low}", role, facility) for role in ("production", "qp")
    }
    batch, bags = released_batch_with_bags(
        [75_000_000, 60_000_000],
        facility=facility,
        din=f"{facility.fin}26{number + 50:06d}",
        hospital=None,  # left in the facility's store
    )
    check = ReleaseCheckFactory(batch=batch)
    bag = bags[0]
    site.records = {
        "donor": batch.donor.code,
        "donor_pk": batch.donor.pk,
        "procurement_pk": batch.procurement.pk,
        "batch": batch.code,
        "batch_pk": batch.pk,
        "bag": bag.code,
        "bag_pk": bag.pk,
        "release_check": check.pk,
        "location": bag.location_id,
        "tank": bag.location.tank,
        "rack": bag.location.rack,
        "box": bag.location.box,
    }
    return site


@pytest.fixture
def network(db):
    ProtocolFactory()
    hus, fjd = _default_hospital(), HospitalFactory(code="FJD", name="Fundación Jiménez Díaz")
    e1 = _default_facility()
    e2 = FacilityFactory(fin="E0002", name="Second GMP facility")
    sites = {
        "HUS": _hospital_site(hus, e1, 1),
        "FJD": _hospital_site(fjd, e2, 2),
        "E0001": _facility_site(e1, 1),
        "E0002": _facility_site(e2, 2),
    }
    return sites


OTHER = {"HUS": "FJD", "FJD": "HUS", "E0001": "E0002", "E0002": "E0001"}

# Route name → (kind of site, how to fill its arguments from a site's records).
ITEM_ROUTES = {
    "patients:patient-eligibility": ("hospital", lambda r: {"code": r["patient"]}),
    "patients:patient-observations": ("hospital", lambda r: {"code": r["patient"]}),
    "patients:patient-weight": ("hospital", lambda r: {"code": r["patient"]}),
    "patients:patient-correct": ("hospital", lambda r: {"code": r["patient"]}),
    "labels-sheet:dispensing-sheet": ("hospital", lambda r: {"pk": r["dose"]}),
    "dosing:patient-detail": ("hospital", lambda r: {"code": r["patient"]}),
    "dosing:dose-order": ("hospital", lambda r: {"code": r["patient"]}),
    "dosing:dose-detail": ("hospital", lambda r: {"pk": r["dose"]}),
    "dosing:bag-timeline": ("hospital", lambda r: {"code": r["bag"]}),
    "dosing:dose-allocate": ("hospital", lambda r: {"pk": r["dose"]}),
    "dosing:dose-prepare": ("hospital", lambda r: {"pk": r["dose"]}),
    "dosing:dose-dispense": ("hospital", lambda r: {"pk": r["dose"]}),
    "dosing:dose-cancel": ("hospital", lambda r: {"pk": r["dose"]}),
    "labels:bag": ("facility", lambda r: {"code": r["bag"]}),
    "labels:batch": ("facility", lambda r: {"code": r["batch"]}),
    "labels:bags": ("facility", lambda r: {"ids": str(r["bag_pk"])}),
    "labels:storage-position": ("facility", lambda r: {"pk": r["location"]}),
    "labels:wristband": ("hospital", lambda r: {"code": r["patient"]}),
    "clinic:bedside-scan": ("hospital", lambda r: {"pk": r["dose"]}),
    "clinic:infusion-record": ("hospital", lambda r: {"pk": r["dose"]}),
    "clinic:adverse-event": ("hospital", lambda r: {"code": r["patient"]}),
    "v1:trace-donor": ("facility", lambda r: {"code": r["donor"]}),
    "v1:trace-patient": ("hospital", lambda r: {"code": r["patient"]}),
    "v1:trace-bag": ("both", lambda r: {"code": r["bag"]}),
    "v1:donor-detail": ("facility", lambda r: {"code": r["donor"]}),
    "v1:batch-detail": ("both", lambda r: {"code": r["batch"]}),
    "v1:bag-detail": ("both", lambda r: {"code": r["bag"]}),
    "v1:release-check-detail": ("facility", lambda r: {"pk": r["release_check"]}),
    "v1:patient-detail": ("hospital", lambda r: {"code": r["patient"]}),
    "v1:dose-detail": ("hospital", lambda r: {"pk": r["dose"]}),
    "v1:infusion-detail": ("hospital", lambda r: {"pk": r["infusion"]}),
    "v1:adverse-event-detail": ("hospital", lambda r: {"pk": r["adverse_event"]}),
    "record:clinical-record": ("hospital", lambda r: {"code": r["patient"]}),
    "dosing:shipment-receive": ("hospital", lambda r: {"code": r["shipment"]}),
    "v1:shipment-detail": ("hospital", lambda r: {"code": r["shipment"]}),
}
# Routes with arguments that are not one site's record, and why they are not walked here.
NOT_SITE_RECORDS = {
    "labels:storage-rack": "a tank and rack name, looked up within the reader's storage",
    "labels:storage-box": "a tank, rack and box name, looked up within the reader's storage",
    "v1:audit-event-detail": "an audit event: walked by tests/audit (per-model scoping)",
    "fhir:search": "walked below with the FHIR resource types",
    "reports:cohort-chart": "a chart's name: each chart draws the reader's own patients",
    "v1:protocol-detail": "a protocol version: the network's, which every site reads "
    "(tests/api/test_inspector_api.py)",
    **dict.fromkeys(
        (
            "v1:reaction-report-detail",
            "v1:recall-detail",
            "v1:recall-exposed-patients",
            "v1:recall-lookback",
            "vigilance:lookback",
            "vigilance:notice-acknowledge",
            "vigilance:part-a",
            "vigilance:part-b",
            "vigilance:report",
            "vigilance:report-pdf",
        ),
        "a recall, notice or reaction report: scoped per hospital by tests/vigilance"
        " (test_lookback, test_notices, test_reaction_reports)",
    ),
    "fhir:read": "walked below with the FHIR resource types",
}
# Collections: route name → (kind, the record keys whose codes appear in the answer,
# whether one's own record must be listed — the ward's worklist lists a patient only while
# a dose waits to be infused).
COLLECTIONS = {
    "patients:patient-list": ("hospital", ["patient"], True),
    "dosing:worklist": ("hospital", ["patient"], True),
    "clinic:worklist": ("hospital", ["patient"], False),
    "v1:donor-list": ("facility", ["donor"], True),
    "v1:batch-list": ("both", ["batch"], True),
    "v1:bag-list": ("both", ["bag"], True),
    "v1:patient-list": ("hospital", ["patient"], True),
    "v1:dose-list": ("hospital", ["patient"], True),
    "v1:infusion-list": ("hospital", ["patient"], True),
    "v1:adverse-event-list": ("hospital", ["patient"], True),
}


def _routes():
    """(route name, pattern string, argument names) of every named route."""
    found = []

    def walk(patterns, prefix, namespace):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if str(entry.pattern).startswith("admin/"):
                    continue
                walk(entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                found.append((name, prefix + str(entry.pattern), entry.pattern.regex.groupindex))

    walk(get_resolver().url_patterns, "", None)
    return found


def _url(name, kwargs):
    from django.urls import reverse

    return reverse(name, kwargs=kwargs)


def _kinds(kind):
    return {"hospital": HOSPITALS, "facility": FACILITIES, "both": HOSPITALS + FACILITIES}[kind]


def _client(user, path, client_factory):
    if path.startswith("/api/"):
        return token_client(user)
    client = client_factory()
    client.force_login(user)
    return client


def test_every_route_is_walked():
    with_arguments = {name for name, _pattern, args in _routes() if args}
    unknown = with_arguments - set(ITEM_ROUTES) - set(NOT_SITE_RECORDS)
    assert not unknown, f"routes with arguments not walked by this test: {sorted(unknown)}"


def test_an_item_of_another_site_answers_404_and_ones_own_does_not(network):
    """Every item route, every role of every site: its own record is not a 404 (a role
    that may not read it gets 403 for both), the other site's record is a 404."""
    from django.test import Client

    failures = []
    for route, (kind, arguments) in sorted(ITEM_ROUTES.items()):
        for code in _kinds(kind):
            own, other = network[code], network[OTHER[code]]
            own_path = _url(route, arguments(own.records))
            other_path = _url(route, arguments(other.records))
            for role, user in own.users.items():
                own_status = _client(user, own_path, Client).get(own_path).status_code
                other_status = _client(user, other_path, Client).get(other_path).status_code
                if own_status in (401, 403):  # the role may not read it anywhere
                    if other_status not in (403, 404):
                        failures.append((route, role, code, other_path, other_status))
                elif own_status == 404 or own_status >= 500 or other_status != 404:
                    failures.append((route, role, code, own_status, other_path, other_status))
    assert not failures, "\n".join(map(str, failures))


def test_a_collection_lists_ones_own_site_and_nothing_of_the_other(network):
    from django.test import Client

    failures = []
    for route, (kind, keys, own_listed) in sorted(COLLECTIONS.items()):
        path = _url(route, {})
        for code in _kinds(kind):
            own, other = network[code], network[OTHER[code]]
            for role, user in own.users.items():
                response = _client(user, path, Client).get(path)
                if response.status_code in (401, 403):
                    continue
                if response.status_code != 200:
                    failures.append((route, role, code, response.status_code))
                    continue
                body = response.content.decode()
                for key in keys:
                    if own_listed and str(own.records[key]) not in body:
                        failures.append((route, role, code, "own missing", key))
                    if str(other.records[key]) in body:
                        failures.append((route, role, code, "other shown", key))
    assert not failures, "\n".join(map(str, failures))


def _admin_objects(site):
    """(admin model, pk) of the facility's records that have an admin."""
    from batches.models import Bag, Batch, Donor, Procurement, ReleaseCheck, StorageLocation

    r = site.records
    return [
        (Donor, r["donor_pk"]),
        (Procurement, r["procurement_pk"]),
        (Batch, r["batch_pk"]),
        (Bag, r["bag_pk"]),
        (ReleaseCheck, r["release_check"]),
        (StorageLocation, r["location"]),
    ]


def test_every_admin_change_page_of_another_facility_answers_404(network, client):
    for code in FACILITIES:
        own, other = network[code], network[OTHER[code]]
        for role, user in own.users.items():
            client.force_login(user)
            for (model, pk), (_model, other_pk) in zip(
                _admin_objects(own), _admin_objects(other), strict=True
            ):
                opts = model._meta
                base = f"/admin/{opts.app_label}/{opts.model_name}"
                assert client.get(f"{base}/{pk}/change/").status_code == 200, (role, opts)
                assert client.get(f"{base}/{other_pk}/change/").status_code == 404, (role, opts)
                assert client.get(f"{base}/{other_pk}/history/").status_code == 404, (role, opts)


def test_every_admin_changelist_lists_only_ones_own_facility(network, client):
    """Every registered admin: its changelist opens, and names none of the other
    facility's donors, batches or bags."""
    registered = [model for model in admin.site._registry if model._meta.app_label != "auth"]
    for code in FACILITIES:
        own, other = network[code], network[OTHER[code]]
        foreign = [other.records["donor"], other.records["batch"], other.records["bag"]]
        for role, user in own.users.items():
            client.force_login(user)
            for model in registered:
                opts = model._meta
                response = client.get(f"/admin/{opts.app_label}/{opts.model_name}/")
                assert response.status_code in (200, 403), (role, opts, response.status_code)
                body = response.content.decode()
                for text in foreign:
                    assert not re.search(rf"\b{re.escape(text)}\b", body), (role, opts, text)
            batches = client.get("/admin/batches/batch/").content.decode()
            assert own.records["batch"] in batches


FHIR_READS = {
    "Patient": lambda r: r["patient"],
    "Procedure": lambda r: str(r["dose"]),
    "AdverseEvent": lambda r: str(r["adverse_event"]),
    "BiologicallyDerivedProduct": lambda r: fhir_ids.bag_id(r["bag"]),
}


def test_a_hospitals_system_reads_its_own_fhir_resources_and_not_the_others(network):
    """A hospital's system is an auditor account of that hospital (issue 17)."""
    for code in HOSPITALS:
        own, other = network[code], network[OTHER[code]]
        api = token_client(own.users["auditor"])
        for resource_type, resource_id in FHIR_READS.items():
            mine = api.get(f"/api/fhir/{resource_type}/{resource_id(own.records)}")
            theirs = api.get(f"/api/fhir/{resource_type}/{resource_id(other.records)}")
            assert mine.status_code == 200, (code, resource_type)
            assert theirs.status_code == 404, (code, resource_type)
            assert theirs.json()["resourceType"] == "OperationOutcome"
        for resource_type in (
            "Procedure",
            "AdverseEvent",
            "BiologicallyDerivedProductDispense",
        ):
            mine = api.get(f"/api/fhir/{resource_type}", {"patient": own.records["patient"]})
            theirs = api.get(f"/api/fhir/{resource_type}", {"patient": other.records["patient"]})
            assert mine.json()["total"] >= 1, (code, resource_type)
            assert theirs.status_code == 200 and theirs.json()["total"] == 0, (code, resource_type)
        everything = api.get("/api/fhir/Patient").json()
        codes = {entry["resource"]["id"] for entry in everything.get("entry", [])}
        assert codes == {own.records["patient"]}


def test_a_trace_leaves_out_the_links_its_reader_may_not_see_and_says_so(db):
    """One donor's cells given at two hospitals. The facility's own auditor follows the
    donor to its batches and bags, but not into the hospitals' doses, and is told how many
    were left out; a hospital's auditor gets no donor trace (the donor is the facility's);
    the network's auditor sees it all."""
    from tests.factories import DonorFactory

    ProtocolFactory()
    hus, fjd = _default_hospital(), HospitalFactory(code="FJD", name="Fundación Jiménez Díaz")
    facility = _default_facility()
    donor = DonorFactory(facility=facility)
    given = {}
    for number, hospital in enumerate((hus, fjd), start=1):
        pharmacist = role_user(f"ph-{hospital.code}", "pharmacy", hospital)
        clinician = role_user(f"cl-{hospital.code}", "clinician", hospital)
        _batch, (bag,) = released_batch_with_bags(
            [75_000_000], donor=donor, din=f"E000126{number + 80:06d}", hospital=hospital
        )
        patient = PatientFactory(code=f"{hospital.patient_code_prefix}-P09", hospital=hospital)
        infused_thawed(patient, pharmacist, clinician)
        given[hospital.code] = (patient.code, bag.code)
    path = f"/api/v1/trace/donors/{donor.code}/"

    at_facility = token_client(role_user("aud-e1", "auditor", facility)).get(path).json()
    assert at_facility["patients"] == []
    bags = [bag for batch in at_facility["batches"] for bag in batch["bags"]]
    assert sorted(bag["code"] for bag in bags) == sorted(b for _p, b in given.values())
    assert [bag["doses"] for bag in bags] == [[], []]
    assert [bag["doses_left_out"] for bag in bags] == [1, 1]

    hospital_auditor = token_client(role_user("aud-hus", "auditor", hus))
    assert hospital_auditor.get(path).status_code == 404

    network = token_client(role_user("aud-all", "auditor", "network")).get(path).json()
    assert sorted(network["patients"]) == sorted(code for code, _bag in given.values())
    assert network["batches_left_out"] == 0
    assert {bag["doses_left_out"] for b in network["batches"] for bag in b["bags"]} == {0}
