"""A course has at most three doses, numbered 1–3: no protocol may allow more, and an
order beyond dose 3 is a clear refusal even where one tries to."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from dosing import services
from dosing.exceptions import OrderRefused
from dosing.models import Protocol
from tests.dosing.flow import hours, infused_thawed
from tests.factories import ProtocolFactory, released_batch_with_bags

pytestmark = pytest.mark.django_db


def test_order_refused_beyond_dose_3_even_if_the_protocol_allows_more(
    patient, pharmacist, clinician
):
    ProtocolFactory(max_doses=4)
    released_batch_with_bags([75_000_000] * 4)
    first = timezone.now() - hours(200)
    for n in range(3):
        infused_thawed(patient, pharmacist, clinician, at=first + hours(72) * n)
    with pytest.raises(OrderRefused, match="numbered 1–3"):
        services.order_dose(patient, actor=pharmacist)


def test_protocol_allows_at_most_three_doses():
    with pytest.raises(ValidationError, match="max_doses"):
        Protocol(code="X", version=1, max_doses=4).clean_fields()
