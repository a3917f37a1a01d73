"""The three traces, each in one request at a constant number of queries whatever the size
of the chain: donor → batches → bags → doses → patients; patient → doses → bags → batch →
donor; and a bag's chain of custody, event by event.

A trace shows only what its reader may see (`for_user` at every level: a hospital's
auditor follows a donor to its own patients, not to another hospital's), and says how
many links it left out (`*_left_out`), so that a gap is never taken for the whole chain.
"""

from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from batches.api import BATCH_CODE_HELP, BagEventSerializer, FacilitySerializer
from batches.models import Bag, BagEvent, Batch, Donor, ShipmentBag
from core.api.permissions import HasViewPermissions
from dosing.api.records import described
from dosing.models import Dose, DoseBag
from patients.models import Patient


class TraceDoseSerializer(serializers.ModelSerializer):
    code = serializers.CharField(read_only=True, help_text="Dose code.")
    patient = serializers.CharField(source="patient.code", read_only=True, help_text="Patient.")
    infused_at = serializers.DateTimeField(
        source="infusion.started_at",
        read_only=True,
        allow_null=True,
        help_text="Start of the infusion; null if not infused.",
    )

    class Meta:
        model = Dose
        fields = ["id", "code", "number", "status", "patient", "infused_at"]
        extra_kwargs = described(
            id="Identifier of the dose.", number="Dose number.", status="Dose status."
        )


LEFT_OUT_HELP = "How many {} exist that you may not see (left out of this trace)."


def _left_out(total, shown) -> int:
    return max(0, (total or 0) - len(shown))


class DonorTraceBagSerializer(serializers.ModelSerializer):
    doses = serializers.SerializerMethodField(help_text="Doses the bag was reserved for.")
    doses_left_out = serializers.SerializerMethodField(help_text=LEFT_OUT_HELP.format("doses"))

    class Meta:
        model = Bag
        fields = ["code", "status", "nominal_cells", "doses", "doses_left_out"]
        extra_kwargs = described(code="Bag code.", status="Bag status.")

    def get_doses_left_out(self, bag) -> int:
        return _left_out(bag.links_total, bag.dose_links.all())

    @extend_schema_field(TraceDoseSerializer(many=True))
    def get_doses(self, bag):
        return TraceDoseSerializer([link.dose for link in bag.dose_links.all()], many=True).data


class DonorTraceBatchSerializer(serializers.ModelSerializer):
    code = serializers.CharField(read_only=True, help_text=BATCH_CODE_HELP)
    facility = FacilitySerializer(read_only=True, help_text="Facility that made the batch.")
    bags = DonorTraceBagSerializer(many=True, read_only=True, help_text="Bags of the batch.")
    bags_left_out = serializers.SerializerMethodField(help_text=LEFT_OUT_HELP.format("bags"))

    class Meta:
        model = Batch
        fields = [
            "code",
            "status",
            "facility",
            "cryopreserved_on",
            "expires_on",
            "bags",
            "bags_left_out",
        ]
        extra_kwargs = described(
            status="Batch status.",
            cryopreserved_on="Date of cryopreservation.",
            expires_on="Expiry date.",
        )

    def get_bags_left_out(self, batch) -> int:
        return _left_out(batch.bags_total, batch.bags.all())


class DonorTraceSerializer(serializers.ModelSerializer):
    batches = DonorTraceBatchSerializer(
        many=True, read_only=True, help_text="The donor's batches."
    )
    batches_left_out = serializers.SerializerMethodField(help_text=LEFT_OUT_HELP.format("batches"))
    patients = serializers.SerializerMethodField(
        help_text="Codes of every patient you may see who received (or was allocated) this "
        "donor's cells."
    )

    class Meta:
        model = Donor
        fields = [
            "code",
            "age_at_donation",
            "sex",
            "consent_for_clinical_use",
            "batches",
            "batches_left_out",
            "patients",
        ]
        extra_kwargs = described(
            age_at_donation="Age in years at donation.", sex="Sex of the donor."
        )

    def get_batches_left_out(self, donor) -> int:
        return _left_out(donor.batches_total, donor.batches.all())

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_patients(self, donor):
        return sorted(
            {
                link.dose.patient.code
                for batch in donor.batches.all()
                for bag in batch.bags.all()
                for link in bag.dose_links.all()
            }
        )


class PatientTraceBagSerializer(serializers.Serializer):
    code = serializers.CharField(source="bag.code", help_text="Bag code.")
    status = serializers.CharField(source="bag.status", help_text="Current bag status.")
    cells = serializers.IntegerField(help_text="Cells reserved from the bag.")
    volume_ml = serializers.DecimalField(
        max_digits=6, decimal_places=1, help_text="Volume of the bag (ml)."
    )
    live = serializers.BooleanField(help_text="False once a cancellation released the bag.")


class PatientTraceBatchSerializer(serializers.ModelSerializer):
    code = serializers.CharField(read_only=True, help_text=BATCH_CODE_HELP)
    donor = serializers.CharField(source="donor.code", read_only=True, help_text="Donor code.")
    facility = FacilitySerializer(read_only=True, help_text="Facility that made the batch.")

    class Meta:
        model = Batch
        fields = ["code", "status", "donor", "facility"]
        extra_kwargs = described(status="Batch status.")


class PatientTraceDoseSerializer(serializers.ModelSerializer):
    code = serializers.CharField(read_only=True, help_text="Dose code.")
    batch = PatientTraceBatchSerializer(
        read_only=True,
        allow_null=True,
        help_text="The batch and its donor; null before allocation.",
    )
    bags = PatientTraceBagSerializer(
        source="dose_bags", many=True, read_only=True, help_text="Bags of the dose."
    )
    preparation_method = serializers.CharField(
        source="preparation.method",
        read_only=True,
        allow_null=True,
        help_text="thawed or refreshed; null before preparation.",
    )
    infused_at = serializers.DateTimeField(
        source="infusion.started_at",
        read_only=True,
        allow_null=True,
        help_text="Start of the infusion; null if not infused.",
    )

    class Meta:
        model = Dose
        fields = [
            "id",
            "code",
            "number",
            "status",
            "delivered_cells",
            "batch",
            "bags",
            "preparation_method",
            "infused_at",
        ]
        extra_kwargs = described(
            id="Identifier of the dose.",
            number="Dose number.",
            status="Dose status.",
            delivered_cells="Cells delivered (cells).",
        )


class PatientTraceSerializer(serializers.ModelSerializer):
    hospital = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text="Treating hospital's site code."
    )
    doses = PatientTraceDoseSerializer(many=True, read_only=True, help_text="The patient's doses.")
    donors = serializers.SerializerMethodField(
        help_text="Codes of every donor whose cells the patient received (or was allocated)."
    )

    class Meta:
        model = Patient
        fields = ["code", "hospital", "doses", "donors"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_donors(self, patient):
        return sorted({dose.batch.donor.code for dose in patient.doses.all() if dose.batch})


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


_TRACE_PERMISSIONS = (
    "batches.view_donor",
    "batches.view_batch",
    "batches.view_bag",
    "dosing.view_dose",
    "patients.view_patient",
)


def _trace_doses(user):
    """The dose links of a bag that `user` may see (their doses' patients' hospitals)."""
    return (
        DoseBag.objects.filter(dose__in=Dose.objects.for_user(user))
        .select_related("dose", "dose__patient", "dose__infusion")
        .order_by("pk")
    )


class TraceView(GenericAPIView):
    """Base of the traces: one object by code, everything else prefetched."""

    permission_classes = [HasViewPermissions]
    required_permissions = _TRACE_PERMISSIONS
    pagination_class = None
    filter_backends = []
    lookup_field = "code"

    def get(self, request, code):
        obj = get_object_or_404(self.get_queryset().for_user(request.user), code=code)
        return Response(self.get_serializer(obj).data)


class DonorTraceView(TraceView):
    """Donor → batches → bags → doses → patients, in one response."""

    serializer_class = DonorTraceSerializer

    def get_queryset(self):
        user = self.request.user
        batches = (
            Batch.objects.for_user(user)
            .select_related("facility")
            .annotate(bags_total=Count("bags", distinct=True))
            .order_by("din")
        )
        bags = (
            Bag.objects.for_user(user)
            .annotate(links_total=Count("dose_links", distinct=True))
            .order_by("code")
        )
        return Donor.objects.annotate(
            batches_total=Count("batches", distinct=True)
        ).prefetch_related(
            Prefetch("batches", queryset=batches),
            Prefetch("batches__bags", queryset=bags),
            Prefetch("batches__bags__dose_links", queryset=_trace_doses(user)),
        )

    @extend_schema(operation_id="trace_donor")
    def get(self, request, code):
        return super().get(request, code)


class PatientTraceView(TraceView):
    """Patient → doses → bags → batch → donor, in one response."""

    serializer_class = PatientTraceSerializer

    def get_queryset(self):
        return Patient.objects.select_related("hospital").prefetch_related(
            Prefetch(
                "doses",
                queryset=Dose.objects.select_related(
                    "batch", "batch__donor", "batch__facility", "preparation", "infusion"
                ).order_by("number", "pk"),
            ),
            Prefetch("doses__dose_bags", queryset=DoseBag.objects.select_related("bag")),
        )

    @extend_schema(operation_id="trace_patient")
    def get(self, request, code):
        return super().get(request, code)


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
