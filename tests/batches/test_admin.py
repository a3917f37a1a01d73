"""The production admin: production staff record, the QP signs, the trail names them."""

import datetime
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse

from audit.models import AuditEvent, Signature
from batches.models import Bag, Batch, Donor
from batches.roles import ROLE_PERMISSIONS
from tests.conftest import totp_code
from tests.factories import (
    BatchFactory,
    FacilityFactory,
    ProcurementFactory,
    ReleaseSpecificationFactory,
    SpecificationItemFactory,
    make_release_ready_batch,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:batches_batch_changelist"


def login(client, user, password):
    assert client.login(username=user.username, password=password)
    return client


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def management(prefix, total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_production_user_creates_donor_with_serology_attributed_on_trail(
    client, production_user, password
):
    login(client, production_user, password)
    data = {
        "code": "ATD-900",
        "facility": str(FacilityFactory(fin="E0001").pk),  # the production user's own
        "age_at_donation": "37",
        "sex": "F",
        "consent_for_clinical_use": "on",
        "consent_signed_on": "2026-03-01",
        "change_reason": "",
        **management("serology", total=1),
        "serology-0-test": "HIV",
        "serology-0-result": "negative",
        "serology-0-sampled_on": "2026-03-02",
        **management("procurements", total=1),
        "procurements-0-procured_on": "2026-03-02",
        "procurements-0-site": "Hospital X, Plastic Surgery",
        "procurements-0-lipoaspirate_volume_ml": "100",
        "procurements-0-fat_weight_g": "50",
        "procurements-0-performed_by": "S-1",
    }
    response = client.post(reverse("admin:batches_donor_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    donor = Donor.objects.get(code="ATD-900")
    for obj_type in ["batches.donor", "batches.serologyresult", "batches.procurement"]:
        event = AuditEvent.objects.filter(object_type=obj_type, action="create").get()
        assert event.actor == production_user
        assert event.origin == "admin"

    page = client.get(reverse("admin:batches_donor_change", args=[donor.pk]))
    content = page.content.decode()
    # Eligibility criterion by criterion: HIV is on file, HBsAg is missing.
    assert "Negative, sampled 2026-03-02." in content
    assert "Serology HBV (HBsAg)" in content
    assert "missing" in content


def test_production_user_creates_batch_then_bags_through_the_action(
    client, production_user, password
):
    facility = FacilityFactory(fin="E0001")  # the production user's own
    procurement = ProcurementFactory()
    spec = ReleaseSpecificationFactory()
    login(client, production_user, password)
    data = {
        "din": "E000126000007",
        "donor": procurement.donor.pk,
        "procurement": procurement.pk,
        "facility": facility.pk,
        "impd_reference": "PEI-15-103",
        "specification": spec.pk,
        "population_doublings": "12",
        "passages": "1",
        "cryopreserved_on": "2026-04-01",
        "expires_on": "2028-04-01",
        "viability_pct": "91",
        "change_reason": "",
        **management("checks"),
        **management("bags"),
    }
    response = client.post(reverse("admin:batches_batch_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    batch = Batch.objects.get(din="E000126000007")
    assert batch.status == Batch.Status.IN_PRODUCTION
    assert AuditEvent.objects.get(object_type="batches.batch").actor == production_user

    action = {"action": "create_bags_action", "_selected_action": [batch.pk]}
    page = client.post(reverse(CHANGELIST), action)
    assert page.status_code == 200
    assert "Create bags for batch" in page.content.decode()

    response = client.post(
        reverse(CHANGELIST),
        {
            **action,
            "apply": "1",
            "count": "4",
            "nominal_cells_million": "60",
            "volume_ml": "20",
            "product_code": "S0412V00",
            "tank": "LN2-1",
            "rack": "R1",
            "box": "B1",
        },
    )
    assert response.status_code == 302
    assert batch.bags.count() == 4
    assert set(batch.bags.values_list("nominal_cells", flat=True)) == {60_000_000}
    assert AuditEvent.objects.filter(object_type="batches.bag", actor=production_user).count() == 4


def create_bags_post(client, batch, cells_million, count="2"):
    return client.post(
        reverse(CHANGELIST),
        {
            "action": "create_bags_action",
            "_selected_action": [batch.pk],
            "apply": "1",
            "count": count,
            "nominal_cells_million": cells_million,
            "volume_ml": "20",
            "product_code": "S0412V00",
            "tank": "LN2-1",
            "rack": "R1",
            "box": "B1",
        },
    )


def test_create_bags_action_shows_cell_count_error_on_the_form(client, production_user, password):
    batch = BatchFactory(status=Batch.Status.IN_PRODUCTION)
    login(client, production_user, password)
    response = create_bags_post(client, batch, "80")
    assert response.status_code == 200
    assert "A bag holds 50–75 ×10⁶ cells: 80 ×10⁶ is too many." in response.content.decode()
    assert not batch.bags.exists()


def test_create_bags_takes_millions_of_cells_and_stores_whole_cells(
    client, production_user, password
):
    batch = BatchFactory(status=Batch.Status.IN_PRODUCTION)
    login(client, production_user, password)
    response = create_bags_post(client, batch, "62.5", count="3")
    assert response.status_code == 302
    assert list(batch.bags.values_list("nominal_cells", flat=True)) == [62_500_000] * 3
    # The count is read back in both forms, so a slipped digit is seen at once.
    assert any("each 62.5 ×10⁶ cells (62,500,000 cells)" in m for m in messages_of(response))


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("60000000", "Enter millions of cells, not cells: 60 for 60,000,000 cells."),
        ("600", "600 ×10⁶ is too many."),
        ("6", "6 ×10⁶ is too few."),
        ("60.125", "Ensure that there are no more than 2 decimal places."),
    ],
)
def test_create_bags_refuses_a_cell_count_off_by_a_factor(
    client, production_user, password, typed, error
):
    batch = BatchFactory(status=Batch.Status.IN_PRODUCTION)
    login(client, production_user, password)
    response = create_bags_post(client, batch, typed)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not batch.bags.exists()


def test_create_bags_form_is_an_aligned_admin_form_with_capitalised_labels(
    client, production_user, password
):
    batch = BatchFactory(status=Batch.Status.IN_PRODUCTION)
    login(client, production_user, password)
    page = client.post(
        reverse(CHANGELIST), {"action": "create_bags_action", "_selected_action": [batch.pk]}
    )
    content = page.content.decode()
    assert '<fieldset class="module aligned' in content
    assert 'class="form-row field-count"' in content
    for label in ["Number of bags:", "Cells per bag (×10⁶):", "Volume per bag (ml):"]:
        assert label in content
    assert "number of bags" not in content
    assert "60 means 60 ×10⁶ = 60,000,000 cells per bag" in content
    assert 'name="nominal_cells_million" value="60"' in content


def test_submit_for_release_action(client, production_user, password):
    batch = make_release_ready_batch(status=Batch.Status.IN_PRODUCTION)
    login(client, production_user, password)
    client.post(
        reverse(CHANGELIST),
        {"action": "submit_for_release_action", "_selected_action": [batch.pk]},
    )
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE


def signer_of(client):
    return get_user_model().objects.get(pk=client.session["_auth_user_id"])


def release_post(client, batch, password, **extra):
    """The release form signed with the password and — the session's first signature —
    the authenticator code (asked for once per session; ignored when not asked)."""
    return client.post(
        reverse(CHANGELIST),
        {
            "action": "release_action",
            "_selected_action": [batch.pk],
            "apply": "1",
            "password": password,
            "otp_code": totp_code(signer_of(client)),
            **extra,
        },
    )


def test_qp_releases_through_the_action_with_the_password(client, qp_user, password):
    batch = make_release_ready_batch()
    login(client, qp_user, password)
    page = client.post(
        reverse(CHANGELIST), {"action": "release_action", "_selected_action": [batch.pk]}
    )
    assert "Ready for release" in page.content.decode()
    assert "Quinn Person" in page.content.decode()

    response = release_post(client, batch, password, comment="in spec")
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == Batch.Status.RELEASED
    assert Signature.objects.get().signer == qp_user
    assert any("released and signed" in m for m in messages_of(response))
    assert set(batch.bags.values_list("status", flat=True)) == {Bag.Status.AVAILABLE}


def test_first_release_of_a_session_needs_the_authenticator_code(client, qp_user, password):
    first, second = make_release_ready_batch(), make_release_ready_batch()
    login(client, qp_user, password)
    page = client.post(
        reverse(CHANGELIST), {"action": "release_action", "_selected_action": [first.pk]}
    )
    assert "Code from your authenticator app" in page.content.decode()

    refused = release_post(client, first, password, otp_code="000000")
    assert refused.status_code == 200
    first.refresh_from_db()
    assert first.status == Batch.Status.QUARANTINE
    assert not Signature.objects.exists()

    time.sleep(1.1)  # django-otp throttles the device for a second after a wrong code
    assert release_post(client, first, password).status_code == 302
    # Later signatures of the same session: the password alone.
    page = client.post(
        reverse(CHANGELIST), {"action": "release_action", "_selected_action": [second.pk]}
    )
    assert "Code from your authenticator app" not in page.content.decode()
    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "release_action",
            "_selected_action": [second.pk],
            "apply": "1",
            "password": password,
        },
    )
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.status == Batch.Status.RELEASED


def test_wrong_password_is_refused_on_the_signing_page(client, qp_user, password):
    batch = make_release_ready_batch()
    login(client, qp_user, password)
    response = release_post(client, batch, "not-my-password")
    assert response.status_code == 200
    assert "The password is not correct" in response.content.decode()
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE
    assert not Signature.objects.exists()


def test_failing_batch_shows_each_reason_as_an_error_message(client, qp_user, password):
    batch = make_release_ready_batch(passages=2)
    SpecificationItemFactory(specification=batch.specification, parameter="CD90")
    login(client, qp_user, password)
    response = release_post(client, batch, password)
    texts = messages_of(response)
    assert f"Batch {batch.code} cannot be released: Passages 2: must be fewer than 2." in texts
    assert any("CD90" in t and "no result recorded" in t for t in texts)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE


def open_signing_page(client, batch, action="release_action"):
    return client.post(reverse(CHANGELIST), {"action": action, "_selected_action": [batch.pk]})


def test_signing_page_of_a_failing_batch_offers_no_release_but_rejection(
    client, qp_user, password
):
    batch = make_release_ready_batch(passages=2)
    login(client, qp_user, password)
    page = open_signing_page(client, batch)
    content = page.content.decode()
    assert "Passages 2: must be fewer than 2." in content
    assert f"Batch {batch.code} fails the release rules" in content
    # No password to type only to be refused, and no release button.
    assert "Release and sign" not in content
    assert 'name="password"' not in content
    assert 'name="apply"' not in content
    # Rejecting stays possible: the button opens the rejection's signing page.
    assert 'value="Reject (QP signature)…"' in content
    assert '<input type="hidden" name="action" value="reject_action">' in content
    reject_page = open_signing_page(client, batch, "reject_action")
    assert "Reject and sign" in reject_page.content.decode()
    assert "Meaning: <strong>Rejected</strong>" in reject_page.content.decode()


def test_signing_page_names_the_meaning_and_links_each_batch_to_its_record(
    client, qp_user, password
):
    batch = make_release_ready_batch()
    login(client, qp_user, password)
    content = open_signing_page(client, batch).content.decode()
    assert "Meaning: <strong>Released</strong>" in content
    assert "Release and sign" in content
    change_url = reverse("admin:batches_batch_change", args=[batch.pk])
    assert f'<a href="{change_url}"' in content
    assert f">{batch.code}</a>" in content


def test_one_failing_batch_blocks_a_release_of_several(client, qp_user, password):
    ready = make_release_ready_batch()
    failing = make_release_ready_batch(passages=2)
    login(client, qp_user, password)
    page = client.post(
        reverse(CHANGELIST),
        {"action": "release_action", "_selected_action": [ready.pk, failing.pk]},
    )
    content = page.content.decode()
    assert f"Batch {failing.code} fails the release rules" in content
    assert "the selection cannot be released (select only batches ready for release)" in content
    assert "Release and sign" not in content


def test_production_user_cannot_release(client, production_user, password):
    batch = make_release_ready_batch()
    login(client, production_user, password)
    release_post(client, batch, password)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE


def test_qp_rejects_with_reason_through_the_action(client, qp_user, password):
    batch = make_release_ready_batch()
    login(client, qp_user, password)
    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "reject_action",
            "_selected_action": [batch.pk],
            "apply": "1",
            "password": password,
            "otp_code": totp_code(qp_user),
            "reason": "mycoplasma detected",
        },
    )
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == Batch.Status.REJECTED
    assert set(batch.bags.values_list("status", flat=True)) == {Bag.Status.DISCARDED}


@pytest.fixture
def released_batch(qp_user, password):
    from batches.services import release_batch

    return release_batch(make_release_ready_batch(), actor=qp_user, password=password)


def batch_form_data(batch, **changes):
    data = {
        "impd_reference": batch.impd_reference,
        "population_doublings": str(batch.population_doublings),
        "passages": str(batch.passages),
        "cryopreserved_on": str(batch.cryopreserved_on),
        "expires_on": str(batch.expires_on),
        "viability_pct": str(batch.viability_pct),
        **management("bags", total=batch.bags.count(), initial=batch.bags.count()),
    }
    for i, bag in enumerate(batch.bags.all()):
        data[f"bags-{i}-id"] = str(bag.pk)
        data[f"bags-{i}-batch"] = str(batch.pk)
    data.update(changes)
    return data


def test_released_batch_is_read_only(client, production_user, password, released_batch):
    login(client, production_user, password)
    url = reverse("admin:batches_batch_change", args=[released_batch.pk])
    page = client.get(url)
    content = page.content.decode()
    assert 'name="_save"' not in content
    assert "Make a correction" in content
    response = client.post(url, batch_form_data(released_batch, passages="0"))
    assert response.status_code == 403
    released_batch.refresh_from_db()
    assert released_batch.passages == 1


def test_correction_of_released_batch_needs_a_reason_and_breaks_the_signature_match(
    client, production_user, password, released_batch
):
    login(client, production_user, password)
    url = reverse("admin:batches_batch_change", args=[released_batch.pk]) + "?correct=1"
    page = client.get(url)
    assert "✔ matches the current record" in page.content.decode()

    response = client.post(url, batch_form_data(released_batch, passages="0", change_reason=""))
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    released_batch.refresh_from_db()
    assert released_batch.passages == 1

    response = client.post(
        url, batch_form_data(released_batch, passages="0", change_reason="typo in batch record")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    released_batch.refresh_from_db()
    assert released_batch.passages == 0
    event = AuditEvent.objects.filter(object_type="batches.batch", action="correct").get()
    assert (event.actor, event.reason) == (production_user, "typo in batch record")

    page = client.get(reverse("admin:batches_batch_change", args=[released_batch.pk]))
    assert "no longer matches the current record" in page.content.decode()


def test_batch_page_shows_status_and_signature_times_in_local_time(
    client, production_user, password, released_batch, settings
):
    from django.utils import timezone

    settings.TIME_ZONE = "Europe/Madrid"
    login(client, production_user, password)
    content = client.get(
        reverse("admin:batches_batch_change", args=[released_batch.pk])
    ).content.decode()
    signed_at = released_batch.decision_signature().signed_at
    local = timezone.localtime(signed_at, timezone.get_fixed_timezone(0))
    madrid = timezone.localtime(signed_at, __import__("zoneinfo").ZoneInfo("Europe/Madrid"))
    assert madrid.utcoffset() != local.utcoffset()  # so the test tells local from UTC
    assert f"Released by Quinn Person at {madrid:%Y-%m-%d %H:%M}" in content
    released_batch.refresh_from_db()
    changed = timezone.localtime(released_batch.status_changed_at, madrid.tzinfo)
    assert f"{changed:%Y-%m-%d %H:%M}" in content
    assert "UTC" not in content
    # The zone is named once for the page's times.
    assert content.count("Europe/Madrid") == 1


def test_audit_history_page_shows_admin_user_and_reason(
    client, production_user, password, released_batch
):
    login(client, production_user, password)
    history = client.get(reverse("admin:batches_batch_history", args=[released_batch.pk]))
    content = history.content.decode()
    assert "release" in content
    assert "qp1" in content


def test_batch_list_shows_status_right_after_the_code(client, production_user, password):
    batch = BatchFactory(status=Batch.Status.QUARANTINE)
    login(client, production_user, password)
    response = client.get(reverse(CHANGELIST))
    content = response.content.decode()
    columns = response.context_data["cl"].list_display
    assert columns[1:3] == ["code", "status"]  # after the selection checkbox
    for shown in ["passages", "expires_on", "bag_count"]:
        assert shown in columns
    assert '<td class="field-status">Quarantine</td>' in content
    # The facility by its FIN: its full name is too wide for the list.
    assert f'<td class="field-facility_fin">{batch.facility.fin}</td>' in content


def test_the_checks_are_shown_once_on_the_grid_for_whoever_records_them(
    client, production_user, qp_user, password
):
    batch = make_release_ready_batch(status=Batch.Status.IN_PRODUCTION)
    url = reverse("admin:batches_batch_change", args=[batch.pk])
    client.force_login(production_user)
    content = client.get(url).content.decode()
    # No check rows beside the grid: the batch page links to it, once.
    assert 'name="checks-0-item"' not in content
    assert 'id="checks-group"' not in content
    assert content.count(reverse("admin:batches_batch_checks", args=[batch.pk])) == 1
    # The batch's own selects keep their related links.
    assert "change_id_donor" in content
    # The QP, who reads them without recording, has them read-only on the batch page.
    client.force_login(qp_user)
    content = client.get(url).content.decode()
    assert 'id="checks-group"' in content
    assert 'name="checks-0-item"' not in content
    for check in batch.checks.select_related("item"):
        assert check.item.parameter in content


def test_donor_page_labels_units_and_keeps_each_eligibility_status_on_one_line(
    client, production_user, password
):
    batch = make_release_ready_batch(bags=0)
    login(client, production_user, password)
    content = client.get(
        reverse("admin:batches_donor_change", args=[batch.donor.pk])
    ).content.decode()
    assert "Lipoaspirate volume (ml)" in content
    assert "Fat weight (g)" in content
    assert '<td class="status" style="white-space: nowrap">✔ met</td>' in content


def test_batch_list_query_count_does_not_grow_with_batches(
    client, production_user, password, django_assert_max_num_queries
):
    for _ in range(15):
        BatchFactory()
    login(client, production_user, password)
    # 12, and the readiness column's prefetches (checks, bags, items, serology): one
    # query each per page, not per batch.
    with django_assert_max_num_queries(16):
        response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200


def test_bag_list_query_count(client, production_user, password, django_assert_max_num_queries):
    make_release_ready_batch(bags=15)
    login(client, production_user, password)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("admin:batches_bag_changelist"))
    assert response.status_code == 200


def test_donor_list_query_count(client, production_user, password, django_assert_max_num_queries):
    for _ in range(5):
        make_release_ready_batch(bags=0)
    login(client, production_user, password)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("admin:batches_donor_changelist"))
    assert response.status_code == 200


def test_batch_search_by_donor_code(client, production_user, password):
    batch = BatchFactory()
    other = BatchFactory()
    login(client, production_user, password)
    response = client.get(reverse(CHANGELIST), {"q": batch.donor.code})
    content = response.content.decode()
    assert batch.code in content
    assert other.code not in content


def test_roles_have_their_batch_permissions_after_migrate(db):
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        granted = {
            f"{app}.{code}"
            for app, code in group.permissions.values_list("content_type__app_label", "codename")
        }
        assert perms <= granted
    qp = set(Group.objects.get(name="qp").permissions.values_list("codename", flat=True))
    assert "release_batch" in qp
    production = set(
        Group.objects.get(name="production").permissions.values_list("codename", flat=True)
    )
    assert "release_batch" not in production
    assert "change_batch" in production
    auditor = set(Group.objects.get(name="auditor").permissions.values_list("codename", flat=True))
    assert not {p for p in auditor if p.split("_")[0] in {"add", "change", "delete"}}


def test_seed_demo_twice_is_idempotent(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    counts = (Batch.objects.count(), Bag.objects.count(), AuditEvent.objects.count())
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert (Batch.objects.count(), Bag.objects.count(), AuditEvent.objects.count()) == counts


def test_demo_mirrors_the_paper(db):
    from io import StringIO

    call_command("seed_demo", stdout=StringIO())
    from batches.querysets import bags_available_for_allocation

    assert Donor.objects.count() == 5
    assert Batch.objects.values("facility").distinct().count() == 3
    assert Batch.objects.filter(status="released").count() == 5
    # 60 bags of released batches, one per donor: the 25-dose cohort plus spare stock.
    assert Bag.objects.filter(batch__status="released").count() == 60
    assert bags_available_for_allocation().exists()
    rejected = Batch.objects.get(status="rejected")
    assert rejected.checks.filter(passed=False, item__parameter="CD105").exists()
    quarantine = Batch.objects.get(status="quarantine")
    from batches.rules import release_failures

    assert release_failures(quarantine) == []
    for bag in Bag.objects.filter(status__in=["available", "quarantine"]):
        assert bag.location_id is not None
        assert 50_000_000 <= bag.nominal_cells <= 75_000_000
    assert datetime.date.today() < quarantine.expires_on
