"""Donor → batches → bags → doses → patients, in one response."""

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery, Value
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from batches.api import BATCH_CODE_HELP, FacilitySerializer
from batches.models import Bag, Batch, Donor
from dosing.api.records import described
from dosing.api.traces.common import (
    LEFT_OUT_HELP,
    TraceDoseSerializer,
    TraceView,
    _left_out,
    _trace_doses,
)
from dosing.models import DoseBag


class DonorTraceBagSerializer(serializers.ModelSerializer):
    """A bag of the donor trace (the schema: its rows are built from value rows,
    `bag_rows`)."""

    doses = TraceDoseSerializer(many=True, help_text="Doses the bag was reserved for.")
    doses_left_out = serializers.IntegerField(help_text=LEFT_OUT_HELP.format("doses"))

    class Meta:
        model = Bag
        fields = ["code", "status", "nominal_cells", "doses", "doses_left_out"]
        extra_kwargs = described(code="Bag code.", status="Bag status.")


_AT = serializers.DateTimeField()  # how an infusion's start is written, as in the serializers


def _links_total():
    """A bag's dose links, counted by a subquery per bag (by the links' bag index): a
    join and GROUP BY would hash every link of the network."""
    links = DoseBag._base_manager.filter(bag=OuterRef("pk")).order_by().values("bag")
    count = links.annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(count, output_field=IntegerField()), Value(0))


def bag_rows(user, batch_ids) -> dict[int, list[dict]]:
    """The bags of these batches that `user` may see, each with the doses it was reserved
    for (those `user` may see), by batch: two queries of value rows, no model instance
    and no serializer per bag or dose (those were most of the trace's time)."""
    bags = list(
        Bag.objects.for_user(user)
        .filter(batch__in=batch_ids)
        .annotate(links_total=_links_total())
        .order_by("code")
        .values("pk", "batch_id", "code", "status", "nominal_cells", "links_total")
    )
    doses: dict[int, list[dict]] = {}
    links = _trace_doses(user).filter(bag__in=[bag["pk"] for bag in bags])
    for link in links.values(
        "bag_id",
        "dose_id",
        "dose__number",
        "dose__status",
        "dose__patient__code",
        "dose__infusion__started_at",
    ):
        patient, at = link["dose__patient__code"], link["dose__infusion__started_at"]
        doses.setdefault(link["bag_id"], []).append(
            {
                "id": link["dose_id"],
                "code": f"{patient if patient is not None else '?'}/D{link['dose__number']}",
                "number": link["dose__number"],
                "status": link["dose__status"],
                "patient": patient,
                "infused_at": _AT.to_representation(at) if at is not None else None,
            }
        )
    rows: dict[int, list[dict]] = {}
    for bag in bags:
        shown = doses.get(bag["pk"], [])
        rows.setdefault(bag["batch_id"], []).append(
            {
                "code": bag["code"],
                "status": bag["status"],
                "nominal_cells": bag["nominal_cells"],
                "doses": shown,
                "doses_left_out": _left_out(bag["links_total"], shown),
            }
        )
    return rows


class DonorTraceBatchSerializer(serializers.ModelSerializer):
    code = serializers.CharField(read_only=True, help_text=BATCH_CODE_HELP)
    facility = FacilitySerializer(read_only=True, help_text="Facility that made the batch.")
    bags = serializers.SerializerMethodField(help_text="Bags of the batch.")
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

    @extend_schema_field(DonorTraceBagSerializer(many=True))
    def get_bags(self, batch):
        return self.context["bags"].get(batch.pk, [])

    def get_bags_left_out(self, batch) -> int:
        return _left_out(batch.bags_total, self.get_bags(batch))


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
                dose["patient"]
                for bags in self.context["bags"].values()
                for bag in bags
                for dose in bag["doses"]
            }
        )


class DonorTraceView(TraceView):
    """Donor → batches → bags → doses → patients, in one response."""

    serializer_class = DonorTraceSerializer

    def get_queryset(self):
        batches = (
            Batch.objects.for_user(self.request.user)
            .select_related("facility")
            .annotate(bags_total=Count("bags", distinct=True))
            .order_by("din")
        )
        return Donor.objects.annotate(
            batches_total=Count("batches", distinct=True)
        ).prefetch_related(Prefetch("batches", queryset=batches))

    def get_serializer_context(self):
        context = super().get_serializer_context()
        donor = getattr(self, "donor", None)
        if donor is not None:
            ids = [batch.pk for batch in donor.batches.all()]
            context["bags"] = bag_rows(self.request.user, ids)
        return context

    @extend_schema(operation_id="trace_donor")
    def get(self, request, code):
        self.donor = self.get_trace_object(code)
        return Response(self.get_serializer(self.donor).data)
