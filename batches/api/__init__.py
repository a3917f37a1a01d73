"""The auditor API of production records: serializers and read-only viewsets.

Everything other apps import is importable from `batches.api`.
"""

from batches.api.serializers import (
    BATCH_CODE_HELP,
    BagEventSerializer,
    BagSerializer,
    BatchCheckSerializer,
    BatchListSerializer,
    BatchSerializer,
    DonorSerializer,
    ProcurementSerializer,
    ReleaseCheckSerializer,
    SerologyResultSerializer,
    SignatureSerializer,
    SpecificationItemSerializer,
    attach_release_signatures,
    described,
)
from batches.api.shipments import ShipmentSerializer, ShipmentViewSet
from batches.api.viewsets import (
    BagViewSet,
    BatchViewSet,
    DonorViewSet,
    ReleaseCheckViewSet,
    bag_queryset,
    batch_queryset,
)
from sites.api import FacilitySerializer

__all__ = [
    "BATCH_CODE_HELP",
    "BagEventSerializer",
    "BagSerializer",
    "BagViewSet",
    "BatchCheckSerializer",
    "BatchListSerializer",
    "BatchSerializer",
    "BatchViewSet",
    "DonorSerializer",
    "DonorViewSet",
    "FacilitySerializer",
    "ProcurementSerializer",
    "ReleaseCheckSerializer",
    "ReleaseCheckViewSet",
    "SerologyResultSerializer",
    "ShipmentSerializer",
    "ShipmentViewSet",
    "SignatureSerializer",
    "SpecificationItemSerializer",
    "attach_release_signatures",
    "bag_queryset",
    "batch_queryset",
    "described",
]
