"""The published figures in the admin: read-only for everyone but a superuser, whose
corrections go through `reports.services` with a written reason, on the audit trail."""

from decimal import Decimal

import pytest

from audit.models import AuditEvent
from reports import services
from reports.exceptions import PublishedFigureError
from reports.models import PublishedFigure
from tests.conftest import _default_hospital, role_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def figure(admin_user):
    return services.create_published_figure(
        actor=admin_user,
        protocol_code="TEST-PROTOCOL",
        source="A test publication, doi:10.0000/test",
        figure="outcomes.improved",
        value=Decimal("9"),
        as_published="9 (70 %)",
    )


def _form(figure, **changes):
    data = {
        "protocol_code": figure.protocol_code,
        "source": figure.source,
        "figure": figure.figure,
        "value": str(figure.value),
        "as_published": figure.as_published,
        "change_reason": "",
    }
    return {**data, **changes}


def _url(figure):
    return f"/admin/reports/publishedfigure/{figure.pk}/change/"


def test_staff_who_read_the_report_see_a_figure_but_cannot_change_it(client, figure):
    reader = role_user("auditor-staff", "auditor", _default_hospital(), is_staff=True)
    client.force_login(reader)

    page = client.get(_url(figure))
    posted = client.post(_url(figure), _form(figure, value="10", change_reason="mine"))

    assert page.status_code == 200
    assert "9 (70 %)" in page.content.decode()
    assert posted.status_code == 403
    figure.refresh_from_db()
    assert figure.value == Decimal("9")
    assert client.get("/admin/reports/publishedfigure/add/").status_code == 403


def test_a_superusers_correction_needs_a_reason_and_is_audited(admin_client, admin_user, figure):
    refused = admin_client.post(_url(figure), _form(figure, value="10"))
    figure.refresh_from_db()
    assert refused.status_code == 200 and figure.value == Decimal("9")

    admin_client.post(
        _url(figure), _form(figure, value="10", change_reason="misread the paper's table 2")
    )

    figure.refresh_from_db()
    assert figure.value == Decimal("10")
    event = AuditEvent.objects.for_object(figure).order_by("seq").last()
    assert event.reason == "misread the paper's table 2"
    assert event.actor == admin_user
    assert event.changes["value"][1] in ("10", "10.0000")


def test_no_one_deletes_a_published_figure_in_the_admin(admin_client, figure):
    response = admin_client.post(
        f"/admin/reports/publishedfigure/{figure.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 403
    assert PublishedFigure.objects.filter(pk=figure.pk).exists()


def test_the_service_refuses_a_correction_without_a_reason(admin_user, figure):
    with pytest.raises(PublishedFigureError, match="Write why"):
        services.correct_published_figure(figure, actor=admin_user, reason=" ", value=1)
    figure.refresh_from_db()
    assert figure.value == Decimal("9")
