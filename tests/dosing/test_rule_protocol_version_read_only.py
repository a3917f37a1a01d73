"""A protocol version used by doses is read-only: changing its rules takes a new
version (in the admin and in the model's validation)."""

import pytest
from django.core.exceptions import ValidationError

from tests.dosing.flow import allocated

pytestmark = pytest.mark.django_db


def test_protocol_version_used_by_doses_is_read_only(
    admin_client, protocol, patient, stock, pharmacist
):
    page = admin_client.get(f"/admin/dosing/protocol/{protocol.pk}/change/")
    assert "min_interval_hours" not in page.context["adminform"].readonly_fields
    allocated(patient, pharmacist)
    page = admin_client.get(f"/admin/dosing/protocol/{protocol.pk}/change/")
    readonly = page.context["adminform"].readonly_fields
    assert "min_interval_hours" in readonly and "active" not in readonly
    assert "add a new version" in page.content.decode()
    protocol.refresh_from_db()
    protocol.min_interval_hours = 24
    with pytest.raises(ValidationError, match="Create a new version"):
        protocol.full_clean()
