"""Doses, infusions and adverse events through the auditor API, and the three traces."""

from dosing.api.protocols import ProtocolSerializer, ProtocolViewSet
from dosing.api.records import (
    AdverseEventSerializer,
    AdverseEventViewSet,
    DoseSerializer,
    DoseViewSet,
    InfusionSerializer,
    InfusionViewSet,
)
from dosing.api.traces import BagTraceView, DonorTraceView, PatientTraceView

__all__ = [
    "AdverseEventSerializer",
    "AdverseEventViewSet",
    "BagTraceView",
    "DonorTraceView",
    "DoseSerializer",
    "DoseViewSet",
    "InfusionSerializer",
    "InfusionViewSet",
    "PatientTraceView",
    "ProtocolSerializer",
    "ProtocolViewSet",
]
