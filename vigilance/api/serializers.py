"""Serializers of the vigilance collections."""

from rest_framework import serializers

from batches.api import BATCH_CODE_HELP
from vigilance.models import ReactionReport, Recall
from vigilance.services.lookback import patient_row


class RecallSerializer(serializers.ModelSerializer):
    code = serializers.CharField(read_only=True, help_text="Recall reference: RC-<batch code>.")
    batch = serializers.CharField(source="batch.code", read_only=True, help_text=BATCH_CODE_HELP)
    donor = serializers.CharField(source="batch.donor.code", read_only=True, help_text="Donor.")
    recalled_by = serializers.CharField(
        source="signature.printed_name", read_only=True, help_text="The QP who signed it."
    )
    signature_hash = serializers.CharField(
        source="signature.content_hash", read_only=True, help_text="SHA-256 signed."
    )

    class Meta:
        model = Recall
        fields = [
            "id",
            "code",
            "batch",
            "donor",
            "reason",
            "recalled_at",
            "recalled_by",
            "signature_hash",
            "stopped_doses",
        ]
        extra_kwargs = {
            "id": {"help_text": "Identifier of the recall (the lookback's path)."},
            "reason": {"help_text": "Why the QP recalled the batch."},
            "recalled_at": {"help_text": "When the QP signed the recall."},
            "stopped_doses": {"help_text": "Doses not yet infused that the recall stopped."},
        }


class ExposedPatientSerializer(serializers.Serializer):
    """One exposed patient: their doses of the batch (infusion dates, bags) and adverse
    events (lists; one JSON cell each in CSV)."""

    patient = serializers.CharField(source="code", help_text="Patient code.")
    hospital = serializers.CharField(help_text="Hospital code.")
    first_infusion = serializers.SerializerMethodField(help_text="First infusion from it.")
    doses = serializers.SerializerMethodField(help_text="Doses of the batch.")
    adverse_events = serializers.SerializerMethodField(help_text="The patient's adverse events.")

    def _row(self, patient):
        cache = getattr(patient, "_lookback_row", None)
        if cache is None:
            cache = patient._lookback_row = _jsonable(patient_row(patient))
        return cache

    def get_first_infusion(self, patient) -> str | None:
        return self._row(patient)["first_infusion"]

    def get_doses(self, patient) -> list:
        return self._row(patient)["doses"]

    def get_adverse_events(self, patient) -> list:
        return self._row(patient)["adverse_events"]


def _jsonable(value):
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class ReactionReportSerializer(serializers.ModelSerializer):
    code = serializers.CharField(read_only=True, help_text="Report id: SAR-<year>-<number>.")
    patient = serializers.CharField(
        source="adverse_event.patient.code", read_only=True, help_text="Patient code."
    )
    products = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        read_only=True,
        help_text="Each bag given: din, product_code, bag.",
    )
    part_a_signed_by = serializers.CharField(
        source="part_a_signature.printed_name",
        read_only=True,
        allow_null=True,
        help_text="Printed name on part A's signature.",
    )
    part_b_signed_by = serializers.CharField(
        source="part_b_signature.printed_name",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="Printed name on part B's signature; null until part B.",
    )

    class Meta:
        model = ReactionReport
        fields = [
            "id",
            "code",
            "adverse_event",
            "patient",
            "establishment",
            "reporting_date",
            "application_date",
            "products",
            "reaction_date",
            "reaction_type",
            "causality",
            "imputability",
            "part_a_submitted_at",
            "part_a_signed_by",
            "confirmed",
            "clinical_outcome",
            "corrective_measures",
            "part_b_submitted_at",
            "part_b_signed_by",
        ]
        extra_kwargs = {
            name: {"help_text": text}
            for name, text in {
                "id": "Identifier of the report.",
                "adverse_event": "Identifier of the adverse event reported.",
                "establishment": "Part A: reporting establishment.",
                "reporting_date": "Part A: reporting date.",
                "application_date": "Part A: date of application (the infusion).",
                "reaction_date": "Part A: date of the reaction.",
                "reaction_type": "Part A: type of reaction.",
                "causality": "WHO-UMC causality on the record.",
                "imputability": "Part A: imputability level (docs/imputability.md).",
                "part_a_submitted_at": "When part A was submitted and signed.",
                "confirmed": "Part B: serious adverse reaction confirmed.",
                "clinical_outcome": "Part B: clinical outcome.",
                "corrective_measures": "Part B: corrective measures.",
                "part_b_submitted_at": "When part B was submitted and signed.",
            }.items()
        }
