"""Serious adverse reaction notifications: part A carries the record's values and cannot
be submitted without a signature; part B follows, signed too; the overdue rule flags
exactly the serious and at least possibly related events without a part A in time."""

from types import SimpleNamespace

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from audit.signatures import SignatureError
from dosing import services as dosing
from tests.dosing.flow import hours, infused_thawed
from tests.factories import (
    HospitalFactory,
    PatientFactory,
    ProtocolFactory,
    released_batch_with_bags,
)
from vigilance import services
from vigilance.exceptions import ReportRefused
from vigilance.imputability import WHO_UMC_TO_IMPUTABILITY, Imputability
from vigilance.models import ReactionReport
from vigilance.rules import is_overdue

pytestmark = pytest.mark.django_db


@pytest.fixture
def infused(db, pharmacist, clinician):
    ProtocolFactory()
    released_batch_with_bags([75_000_000] * 3)
    patient = PatientFactory(weight_kg=78)
    return infused_thawed(patient, pharmacist, clinician, at=timezone.now() - hours(48))


def event_of(dose, clinician, *, serious=True, causality="probable", age_h=40, **extra):
    values = {
        "description": "anaphylactic shock during infusion",
        "ctcae_grade": 4,
        "outcome": "recovered",
        **extra,
    }
    return dosing.report_adverse_event(
        dose.patient,
        actor=clinician,
        dose=dose,
        onset_at=timezone.now() - hours(age_h + 1),
        serious=serious,
        causality=causality,
        at=timezone.now() - hours(age_h),
        **values,
    )


def test_part_a_carries_the_records_values(infused, clinician, password):
    event = event_of(infused, clinician)
    report = services.submit_part_a(event, actor=clinician, password=password)
    bag = infused.dose_bags.get().bag
    assert report.establishment == "Hospital Universitario de Salamanca (HUS)"
    assert report.application_date == timezone.localdate(infused.infusion.started_at)
    assert report.products == [
        {"din": infused.batch.code, "product_code": bag.product_code, "bag": bag.code}
    ]
    assert report.reaction_date == timezone.localdate(event.onset_at)
    assert report.reaction_type == event.description
    assert report.imputability == Imputability.PROBABLE
    assert report.reporting_date == timezone.localdate()
    assert report.code.startswith(f"SAR-{timezone.localdate().year}-")


def test_part_a_is_signed_and_on_the_trail(infused, clinician, password):
    report = services.submit_part_a(
        event_of(infused, clinician), actor=clinician, password=password
    )
    assert report.part_a_signature.meaning == "submitted"
    assert report.part_a_signature.printed_name == "Cleo Nician"
    actions = set(AuditEvent.objects.for_object(report).values_list("action", flat=True))
    assert {"submit_part_a", "sign"} <= actions


@pytest.mark.parametrize("wrong", ["", "not-my-password"])
def test_part_a_cannot_be_submitted_without_a_signature(infused, clinician, wrong):
    event = event_of(infused, clinician)
    with pytest.raises(SignatureError):
        services.submit_part_a(event, actor=clinician, password=wrong)
    assert not ReactionReport.objects.exists()


def test_part_a_refused_for_a_non_serious_event_or_twice(infused, clinician, password):
    with pytest.raises(ReportRefused, match="not serious"):
        services.submit_part_a(
            event_of(infused, clinician, serious=False), actor=clinician, password=password
        )
    event = event_of(infused, clinician)
    services.submit_part_a(event, actor=clinician, password=password)
    with pytest.raises(ReportRefused, match="already submitted"):
        services.submit_part_a(event, actor=clinician, password=password)


def test_only_a_clinician_signs_a_notification(infused, clinician, pharmacist, password):
    with pytest.raises(SignatureError, match="clinician"):
        services.submit_part_a(event_of(infused, clinician), actor=pharmacist, password=password)


def test_part_b_follows_signed(infused, clinician, password):
    report = services.submit_part_a(
        event_of(infused, clinician), actor=clinician, password=password
    )
    with pytest.raises(ReportRefused) as refusal:
        services.submit_part_b(
            report,
            actor=clinician,
            password=password,
            confirmed=None,
            clinical_outcome="",
            corrective_measures="",
        )
    assert set(refusal.value.fields) == {"confirmed", "clinical_outcome", "corrective_measures"}
    report = services.submit_part_b(
        report,
        actor=clinician,
        password=password,
        confirmed=True,
        clinical_outcome="complete_recovery",
        corrective_measures="premedication reinforced for the next dose",
    )
    assert report.part_b_signature.meaning == "submitted"
    assert report.part_b_signature != report.part_a_signature


def _event(serious, causality, reported_hours_ago):
    return SimpleNamespace(
        serious=serious,
        causality=causality,
        reported_at=timezone.now() - hours(reported_hours_ago),
    )


@pytest.mark.parametrize(
    ("serious", "causality", "overdue"),
    [
        (True, "certain", True),
        (True, "probable", True),
        (True, "possible", True),
        (True, "unlikely", False),  # the paper's fatal GI bleed, judged unrelated
        (True, "conditional", False),
        (True, "unassessable", False),
        (False, "certain", False),
    ],
)
def test_overdue_rule_flags_exactly_serious_and_related(settings, serious, causality, overdue):
    settings.REACTION_REPORT_HOURS = 24
    event = _event(serious, causality, 25)
    assert is_overdue(event, part_a_submitted=False, now=timezone.now()) is overdue
    assert is_overdue(event, part_a_submitted=True, now=timezone.now()) is False


def test_overdue_only_after_the_settings_hours(settings):
    settings.REACTION_REPORT_HOURS = 24
    assert not is_overdue(_event(True, "certain", 23), part_a_submitted=False, now=timezone.now())


def test_overdue_queryset_matches_the_rule(infused, clinician, pharmacist, password, settings):
    settings.REACTION_REPORT_HOURS = 24
    related = event_of(infused, clinician, causality="possible")
    event_of(
        infused,
        clinician,
        causality="unlikely",
        description="gastrointestinal bleed",
        ctcae_grade=5,
        outcome="fatal",
    )
    event_of(infused, clinician, serious=False, causality="certain", ctcae_grade=1)
    recent = event_of(infused, clinician, causality="certain", age_h=2)
    reported = event_of(infused, clinician, causality="probable")
    services.submit_part_a(reported, actor=clinician, password=password)
    assert [e.pk for e in services.overdue_reactions(pharmacist)] == [related.pk]
    assert recent.pk not in {e.pk for e in services.overdue_reactions(clinician)}


def test_the_published_table_covers_every_who_umc_category():
    from dosing.models import AdverseEvent

    assert set(WHO_UMC_TO_IMPUTABILITY) == set(AdverseEvent.Causality.values)


def test_pdf_of_each_part(client, infused, clinician, password, auditor):
    report = services.submit_part_a(
        event_of(infused, clinician), actor=clinician, password=password
    )
    client.force_login(auditor)
    response = client.get(f"/vigilance/reactions/{report.pk}/part-a.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert client.get(f"/vigilance/reactions/{report.pk}/part-b.pdf").status_code == 404
    services.submit_part_b(
        report,
        actor=clinician,
        password=password,
        confirmed=False,
        clinical_outcome="unknown",
        corrective_measures="none",
    )
    assert client.get(f"/vigilance/reactions/{report.pk}/part-b.pdf").content.startswith(b"%PDF")


def test_clinician_files_part_a_from_the_page(client, infused, clinician, password, otp_code):
    event = event_of(infused, clinician)
    client.force_login(clinician)
    page = client.get(f"/vigilance/reactions/event/{event.pk}/")
    content = page.content.decode()
    assert infused.batch.code in content and "2 — likely, probable" in content
    refused = client.post(
        f"/vigilance/reactions/event/{event.pk}/", {"reaction_type": "anaphylaxis", "password": ""}
    )
    assert refused.status_code == 200 and not ReactionReport.objects.exists()
    done = client.post(
        f"/vigilance/reactions/event/{event.pk}/",
        {"reaction_type": "anaphylaxis", "password": password, "otp_code": otp_code(clinician)},
    )
    report = ReactionReport.objects.get()
    assert done.status_code == 302 and report.reaction_type == "anaphylaxis"


def test_patient_page_links_a_serious_event_to_its_notification(client, infused, clinician):
    event = event_of(infused, clinician)
    client.force_login(clinician)
    page = client.get(f"/pharmacy/patient/{infused.patient.code}/").content.decode()
    assert f"/vigilance/reactions/event/{event.pk}/" in page


def test_reaction_reports_api_read_only_filterable_csv(
    client, infused, clinician, password, auditor
):
    report = services.submit_part_a(
        event_of(infused, clinician), actor=clinician, password=password
    )
    client.force_login(auditor)
    data = client.get("/api/v1/reaction-reports/?imputability=2").json()
    assert [r["code"] for r in data["results"]] == [report.code]
    assert client.get("/api/v1/reaction-reports/?imputability=3").json()["results"] == []
    assert client.get("/api/v1/reaction-reports/?part_b_submitted=true").json()["results"] == []
    assert client.post("/api/v1/reaction-reports/", {}).status_code in (403, 405)
    csv = client.get("/api/v1/reaction-reports/?format=csv")
    assert report.code in b"".join(csv.streaming_content).decode()


def test_reaction_reports_constant_queries(
    client, infused, clinician, password, auditor, django_assert_max_num_queries
):
    for _ in range(3):
        services.submit_part_a(event_of(infused, clinician), actor=clinician, password=password)
        client.force_login(auditor)
        with django_assert_max_num_queries(8):
            assert client.get("/api/v1/reaction-reports/").status_code == 200


def test_a_clinician_of_another_hospital_neither_reports_nor_reads(
    client, infused, clinician, make_role_user, password
):
    other = make_role_user(
        "clin-fjd", "clinician", HospitalFactory(code="FJD", name="Fundación Jiménez Díaz")
    )
    event = event_of(infused, clinician)
    with pytest.raises(SignatureError, match="another hospital"):
        services.submit_part_a(event, actor=other, password=password)
    assert not ReactionReport.objects.exists()
    report = services.submit_part_a(event, actor=clinician, password=password)
    client.force_login(other)
    assert client.get(f"/vigilance/reactions/{report.pk}/").status_code == 404
    assert client.get(f"/vigilance/reactions/event/{event.pk}/").status_code == 404
