"""The audit trail through the auditor API, and verification of its hash chain."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from audit.filters import AuditEventFilterSet
from audit.models import AuditEvent
from audit.verify import verify_chain
from audit.verify.reconcile import last_run
from core.api.rows import ValueRows
from core.api.serializers import ModelSerializer
from core.api.viewsets import AuditorViewSet


class AuditEventSerializer(ModelSerializer):
    actor = serializers.CharField(
        source="actor_username",
        read_only=True,
        help_text="Username of who made the change; empty for the system itself.",
    )
    changes = serializers.DictField(
        child=serializers.JSONField(),
        read_only=True,
        help_text="Changed fields, {field: [before, after]}; a many-to-many change lists "
        "what was added or removed.",
    )

    class Meta:
        model = AuditEvent
        fields = [
            "seq",
            "occurred_at",
            "actor",
            "origin",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "reason",
            "prev_hash",
            "hash",
        ]
        extra_kwargs = {
            "origin": {"help_text": "Interface the change came through."},
            "object_id": {"help_text": "Primary key of the changed record."},
            "reason": {"help_text": "The written reason given for the change."},
            "prev_hash": {"help_text": "SHA-256 of the previous event (the chain link)."},
            "hash": {"help_text": "SHA-256 of this event's canonical content."},
        }


class ReconciliationRunSerializer(serializers.Serializer):
    finished_at = serializers.DateTimeField(help_text="When the last reconciliation ended.")
    clean = serializers.BooleanField(
        help_text="Whether every audited record equalled its trail's after-state."
    )
    rows_checked = serializers.IntegerField(help_text="Records compared.")
    events_read = serializers.IntegerField(help_text="Events replayed.")
    findings_count = serializers.IntegerField(help_text="Disagreements found.")
    findings = serializers.ListField(
        child=serializers.CharField(),
        help_text="The first findings: table, key, field, the row's and the trail's value.",
    )
    seconds = serializers.FloatField(help_text="How long the reconciliation took.")


class VerificationSerializer(serializers.Serializer):
    intact = serializers.BooleanField(help_text="Whether every event is unchanged and in place.")
    count = serializers.IntegerField(
        help_text="Events verified intact (all of them, or those before the first break)."
    )
    first_broken_seq = serializers.IntegerField(
        allow_null=True, help_text="Position of the first broken event; null when intact."
    )
    first_broken_id = serializers.IntegerField(
        allow_null=True, help_text="Row id of the first broken event; null when intact."
    )
    reason = serializers.CharField(
        allow_null=True,
        help_text="Why it breaks: changed content, missing event, reordered, duplicate "
        "position, checkpoint mismatch or checkpoint invalid; null when intact.",
    )
    detail = serializers.CharField(allow_blank=True, help_text="Explanation of the break.")
    checkpoints_checked = serializers.IntegerField(help_text="Signed checkpoints compared.")
    head_seq = serializers.IntegerField(help_text="Position of the last verified event.")
    head_hash = serializers.CharField(help_text="Hash of the last verified event.")
    notes = serializers.ListField(
        child=serializers.CharField(), help_text="Remarks from the verification."
    )
    seconds = serializers.FloatField(help_text="How long the verification took.")
    reconciliation = ReconciliationRunSerializer(
        allow_null=True,
        help_text="The last run of `verify_audit`'s reconciliation (records against the "
        "trail; offline, as it reads every record); null if it never ran.",
    )


class AuditEventViewSet(AuditorViewSet):
    """The append-only audit trail: who, when, what, before/after, why, and the hashes."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    # Pages and the CSV from tuples (core.api.rows): every column is a field of the event.
    value_rows = ValueRows()
    filterset_class = AuditEventFilterSet
    lookup_field = "seq"
    lookup_value_regex = "[0-9]+"
    ordering = ["seq"]
    ordering_fields = ["seq"]
    csv_filename = "audit-events"

    @extend_schema(
        responses=VerificationSerializer,
        filters=False,
        parameters=[],
    )
    @action(detail=False, pagination_class=None, filter_backends=[])
    def verify(self, request):
        """Recompute the hash chain: whether it is intact, or where it first breaks and why.

        Always 200 when the check ran: a broken chain is a finding, not an error.
        """
        result = verify_chain()
        data = {**result.as_dict(), "reconciliation": last_run()}
        return Response(VerificationSerializer(data).data)
