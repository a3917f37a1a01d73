"""Cells are typed as ×10⁶ on every form, the unit beside the field; a count typed in
cells is refused outright, never offered an override."""

import pytest
from django.utils import timezone

from batches.forms import CreateBagsForm
from dosing.forms import RefreshForm
from dosing.models import Preparation
from tests.dosing.flow import allocated, hours

pytestmark = pytest.mark.django_db


def _local(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _refresh_post(now, viable):
    return {
        "method": "refreshed",
        "thawed_at": _local(now - hours(49)),
        "seeded_at": _local(now - hours(48)),
        "harvested_at": _local(now - hours(1)),
        "viable_cells": viable,
        "viability_pct": "94.0",
        "volume_ml": "50.0",
    }


def test_refresh_form_takes_millions_and_cleans_to_cells():
    form = RefreshForm(_refresh_post(timezone.now(), "76"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["viable_cells"] == 76_000_000


def test_refresh_form_refuses_a_count_typed_in_cells():
    form = RefreshForm(_refresh_post(timezone.now(), "76000000"))
    assert not form.is_valid()
    assert "Enter millions of cells, not cells" in form.errors["viable_cells"][0]


@pytest.mark.parametrize("form_class", [RefreshForm, CreateBagsForm])
def test_every_cell_field_shows_its_unit_beside_it(form_class):
    html = str(form_class())
    assert "(×10⁶)" in html
    assert '<span class="unit">×10⁶</span>' in html


def test_refresh_page_records_76_as_76_million_cells(client, protocol, patient, stock, pharmacist):
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(50))
    client.force_login(pharmacist)

    page = client.post(f"/pharmacy/dose/{dose.pk}/prepare/", _refresh_post(now, "76"))

    assert page.status_code == 302
    assert Preparation.objects.get(dose=dose).viable_cells == 76_000_000


def test_refresh_page_refuses_cells_typed_as_millions_without_an_override_offer(
    client, protocol, patient, stock, pharmacist
):
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(50))
    client.force_login(pharmacist)

    page = client.post(f"/pharmacy/dose/{dose.pk}/prepare/", _refresh_post(now, "0.5"))

    assert page.status_code == 200
    errors = page.context["form"].errors
    assert list(errors) == ["viable_cells"]  # no override asked for
    assert "less than a hundredth" in errors["viable_cells"][0]
    assert not Preparation.objects.exists()
