"""A bag's chain of custody, event by event with actor and time, and its doses."""

from django.db.models import Count, Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers

from batches.api import BagEventSerializer
from batches.models import Bag, BagEvent, ShipmentBag
from dosing.api.records import described
from dosing.api.traces.common import (
    _TRACE_PERMISSIONS,
    LEFT_OUT_HELP,
    PatientTraceBatchSerializer,
    TraceDoseSerializer,
    TraceView,
    _left_out,
    _trace_doses,
)


class TraceShipmentSerializer(serializers.Serializer):
    code = serializers.CharField(source="shipment.code", help_text="Shipment code.")
    facility = serializers.CharField(source="shipment.facility.fin", help_text="From (FIN).")
    hospital = serializers.CharField(source="shipment.hospital.code", help_text="To (code).")
    status = serializers.CharField(source="shipment.status", help_text="Shipment status.")
    dispatched_at = serializers.DateTimeField(
        source="shipment.dispatched_at", allow_null=True, help_text="When it left."
    )
    received_at = serializers.DateTimeField(
        source="shipment.received_at", allow_null=True, help_text="When it was received."
    )
    received_by = serializers.CharField(
        source="shipment.received_by.get_username",
        allow_null=True,
        default=None,
        help_text="Who received it.",
    )
    logger_result = serializers.CharField(
        source="shipment.logger_result", help_text="in_range or excursion; blank until received."
    )
    decision = serializers.CharField(
        source="shipment.decision", help_text="The QP's decision on an excursion."
    )
    recorded_before_shipments = serializers.BooleanField(
        source="shipment.recorded_before_shipments",
        help_text="A receipt the shipments migration recorded for a bag already allocated.",
    )
    received_location = serializers.CharField(
        source="received_location.__str__",
        allow_null=True,
        default=None,
        help_text="The hospital position the bag was put in.",
    )


class BagTraceSerializer(serializers.ModelSerializer):
    batch = PatientTraceBatchSerializer(read_only=True, help_text="The bag's batch and donor.")
    location = serializers.StringRelatedField(
        # Not `source="location.__str__"`: for a bag out of storage that is None's own
        # method, rendered as "<method-wrapper ...>" instead of null.
        allow_null=True,
        help_text="Current storage position; null once out of storage.",
    )
    events = BagEventSerializer(
        many=True, read_only=True, help_text="Chain of custody, oldest first."
    )
    doses = serializers.SerializerMethodField(help_text="Doses the bag was reserved for.")
    doses_left_out = serializers.SerializerMethodField(help_text=LEFT_OUT_HELP.format("doses"))
    shipments = TraceShipmentSerializer(
        source="shipment_items",
        many=True,
        read_only=True,
        help_text="The shipments that carried the bag (those the reader may see), oldest first.",
    )

    class Meta:
        model = Bag
        fields = [
            "code",
            "status",
            "nominal_cells",
            "volume_ml",
            "location",
            "discard_reason",
            "batch",
            "events",
            "shipments",
            "doses",
            "doses_left_out",
        ]
        extra_kwargs = described(
            code="Bag code.",
            status="Current bag status.",
            volume_ml="Volume (ml).",
            discard_reason="Why the bag was discarded.",
        )

    @extend_schema_field(TraceDoseSerializer(many=True))
    def get_doses(self, bag):
        return TraceDoseSerializer([link.dose for link in bag.dose_links.all()], many=True).data

    def get_doses_left_out(self, bag) -> int:
        return _left_out(bag.links_total, bag.dose_links.all())


class BagTraceView(TraceView):
    """A bag's chain of custody, event by event with actor and time, and its doses."""

    serializer_class = BagTraceSerializer
    required_permissions = (*_TRACE_PERMISSIONS, "batches.view_bagevent")

    def get_queryset(self):
        return (
            Bag.objects.select_related("location", "batch", "batch__donor", "batch__facility")
            .annotate(links_total=Count("dose_links", distinct=True))
            .prefetch_related(
                Prefetch(
                    "events",
                    queryset=BagEvent.objects.select_related("actor").order_by(
                        "occurred_at", "id"
                    ),
                ),
                Prefetch("dose_links", queryset=_trace_doses(self.request.user)),
                Prefetch(
                    "shipment_items",
                    queryset=ShipmentBag.objects.for_user(self.request.user)
                    .select_related(
                        "shipment__facility",
                        "shipment__hospital",
                        "shipment__received_by",
                        "received_location",
                    )
                    .order_by("shipment__created_at", "pk"),
                ),
            )
        )

    @extend_schema(operation_id="trace_bag")
    def get(self, request, code):
        return super().get(request, code)
