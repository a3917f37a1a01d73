"""Read-only viewsets of production records (the auditor API).

Every queryset carries the joins and prefetches that keep a page at a constant number
of queries.
"""

from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404

from batches.api.serializers import (
    BagSerializer,
    BatchSerializer,
    DonorSerializer,
    ReleaseCheckSerializer,
)
from batches.filters import BagFilterSet, BatchFilterSet, DonorFilterSet, ReleaseCheckFilterSet
from batches.models import Bag, Batch, Donor, ReleaseCheck
from core.api.filters import batch_code_q
from core.api.rows import Computed, ValueRows
from core.api.viewsets import AuditorViewSet


def batch_queryset():
    return Batch.objects.select_related(
        "donor", "facility", "procurement", "specification"
    ).prefetch_related(
        Prefetch(
            "checks",
            queryset=ReleaseCheck.objects.select_related("item", "item__specification").order_by(
                "item__category", "item__parameter", "id"
            ),
        )
    )


def bag_queryset():
    return Bag.objects.select_related("batch", "batch__donor", "location")


class DonorViewSet(AuditorViewSet):
    """Donors, by pseudonymous code, with their serology and procurements."""

    queryset = Donor.objects.select_related("facility").prefetch_related(
        "serology", "procurements"
    )
    serializer_class = DonorSerializer
    filterset_class = DonorFilterSet
    lookup_field = "code"
    ordering = ["code"]
    ordering_fields = ["code", "created_at"]
    csv_filename = "donors"


class BatchViewSet(AuditorViewSet):
    """GMP batches with their release checks, limits, pass/fail and release signature."""

    queryset = batch_queryset()
    serializer_class = BatchSerializer
    filterset_class = BatchFilterSet
    lookup_field = "code"
    lookup_value_regex = "[A-Za-z0-9*]+"
    ordering = ["din"]
    ordering_fields = ["din", "created_at", "expires_on", "cryopreserved_on"]
    csv_filename = "batches"

    def get_serializer_context(self):
        # Recomputing the signed content costs queries per batch: on the batch's own page
        # only, so that lists stay constant in queries.
        return {**super().get_serializer_context(), "verify_signature": self.action == "retrieve"}

    def get_object(self):
        # The code is the DIN followed by its check character; both must match.
        code = self.kwargs["code"]
        if len(code) != 14:
            raise Http404("No batch with this code: a batch code is 14 characters.")
        obj = get_object_or_404(self.get_queryset(), **batch_code_q("", code))
        self.check_object_permissions(self.request, obj)
        return obj


def _batch_code(din, din_check):
    return f"{din}{din_check}"  # Batch.code


def _position(tank, rack, box, position):
    # StorageLocation.__str__; no location once out of storage.
    return None if tank is None else f"{tank}/{rack}/{box}/{position}"


class BagViewSet(AuditorViewSet):
    """Bags, by code (ISBT 128 style), with their batch, donor and storage position."""

    queryset = bag_queryset()
    serializer_class = BagSerializer
    # Lists and the CSV from tuples: a page of bags or an export of every bag builds no
    # model instance (see core.api.rows); the item keeps the serializer.
    value_rows = ValueRows(
        {
            "batch": Computed(("batch__din", "batch__din_check"), _batch_code),
            "location": Computed(
                ("location__tank", "location__rack", "location__box", "location__position"),
                _position,
            ),
        }
    )
    filterset_class = BagFilterSet
    lookup_field = "code"
    ordering = ["code"]
    ordering_fields = ["code", "created_at"]
    csv_filename = "bags"


class ReleaseCheckViewSet(AuditorViewSet):
    """Release checks: each result against its specification item, with pass/fail."""

    queryset = ReleaseCheck.objects.select_related("batch", "item", "item__specification")
    serializer_class = ReleaseCheckSerializer
    filterset_class = ReleaseCheckFilterSet
    ordering = ["id"]
    ordering_fields = ["id", "tested_on", "recorded_at"]
    csv_filename = "release-checks"
