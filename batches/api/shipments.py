"""Shipments in the auditor API (`/api/v1/shipments/`): read-only, filterable,
cursor-paged, `?format=csv`; each with its bags, who and when at each step, the logger's
result and the QP's decision on an excursion."""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch
from rest_framework import serializers

from batches.api.serializers import described
from batches.models import Shipment, ShipmentBag
from core.api.filters import DateTimeRangeFilter, FilterSet
from core.api.viewsets import AuditorViewSet


def _username(field: str, text: str):
    return serializers.CharField(
        source=f"{field}.get_username", read_only=True, allow_null=True, help_text=text
    )


class ShipmentBagSerializer(serializers.ModelSerializer):
    bag = serializers.CharField(source="bag.code", read_only=True, help_text="Bag code.")
    received_location = serializers.CharField(
        source="received_location.__str__",
        read_only=True,
        allow_null=True,
        help_text="The hospital position the bag was put in at receipt.",
    )

    class Meta:
        model = ShipmentBag
        fields = ["bag", "from_location", "received_location", "open"]
        extra_kwargs = described(
            from_location="The facility position the bag left.",
            open="True until the shipment is received.",
        )


class ShipmentSerializer(serializers.ModelSerializer):
    facility = serializers.CharField(
        source="facility.fin", read_only=True, help_text="Facility FIN."
    )
    hospital = serializers.CharField(
        source="hospital.code", read_only=True, help_text="Hospital code."
    )
    created_by = _username("created_by", "Who created it.")
    dispatched_by = _username("dispatched_by", "Who dispatched it.")
    received_by = _username("received_by", "Who received it.")
    decided_by = _username("decided_by", "The QP who decided on an excursion.")
    bags = ShipmentBagSerializer(source="items", many=True, read_only=True, help_text="Its bags.")

    class Meta:
        model = Shipment
        fields = [*Shipment.RECORD_FIELDS, "bags"]
        extra_kwargs = described(
            code="Shipment code.",
            status="created, dispatched or received.",
            logger_result="in_range or excursion (read at receipt).",
            recorded_before_shipments="A receipt the shipments migration recorded for bags "
            "already allocated.",
            decision="The QP's decision on an excursion: released or discarded.",
            created_at="When production created it.",
            dispatched_at="When it left the facility; null until dispatched.",
            received_at="When the hospital's pharmacy received it; null until then.",
            receipt_note="The pharmacy's note at receipt.",
            decided_at="When the QP decided on an excursion; null otherwise.",
            decision_reason="The QP's reason for the decision.",
        )


class ShipmentFilterSet(FilterSet):
    code = django_filters.CharFilter(help_text="Shipment code (exact).")
    status = django_filters.MultipleChoiceFilter(
        choices=Shipment.Status.choices, help_text="One or more statuses (repeat the parameter)."
    )
    facility = django_filters.CharFilter(field_name="facility__fin", help_text="Facility FIN.")
    hospital = django_filters.CharFilter(field_name="hospital__code", help_text="Hospital code.")
    logger_result = django_filters.ChoiceFilter(
        choices=Shipment.LoggerResult.choices, help_text="in_range or excursion."
    )
    bag = django_filters.CharFilter(
        field_name="items__bag__code", distinct=True, help_text="Shipments carrying this bag."
    )
    dispatched_at = DateTimeRangeFilter(
        help_text="Dispatched in this range (`dispatched_at_after`, `dispatched_at_before`)."
    )
    received_at = DateTimeRangeFilter(
        help_text="Received in this range (`received_at_after`, `received_at_before`)."
    )

    class Meta:
        model = Shipment
        fields = [
            "code",
            "status",
            "facility",
            "hospital",
            "logger_result",
            "bag",
            "dispatched_at",
            "received_at",
        ]


class ShipmentViewSet(AuditorViewSet):
    """Shipments facility → hospital, with their bags, people, times and logger result."""

    queryset = Shipment.objects.select_related(
        "facility", "hospital", "created_by", "dispatched_by", "received_by", "decided_by"
    ).prefetch_related(
        Prefetch(
            "items",
            queryset=ShipmentBag.objects.select_related("bag", "received_location").order_by(
                "bag__code"
            ),
        )
    )
    serializer_class = ShipmentSerializer
    filterset_class = ShipmentFilterSet
    lookup_field = "code"
    ordering = ["code"]
    ordering_fields = ["code", "created_at", "dispatched_at", "received_at"]
    csv_filename = "shipments"
