"""FilterSet for the audit trail (auditor API)."""

import django_filters

from audit.context import Origin
from audit.models import AuditEvent
from core.api.filters import DateTimeRangeFilter, FilterSet, IntegerRangeFilter


class AuditEventFilterSet(FilterSet):
    seq = IntegerRangeFilter(help_text="Position range (`seq_min`, `seq_max`).")
    occurred_at = DateTimeRangeFilter(
        help_text="Committed in this range (`occurred_at_after`, `occurred_at_before`)."
    )
    actor = django_filters.CharFilter(
        field_name="actor_username", help_text="Username of who made the change."
    )
    origin = django_filters.ChoiceFilter(
        choices=Origin.CHOICES, help_text="Interface the change came through."
    )
    action = django_filters.CharFilter(help_text="create, update, delete or a transition.")
    object_type = django_filters.CharFilter(help_text="app_label.model, e.g. batches.batch.")
    object_id = django_filters.CharFilter(help_text="Primary key of the changed record.")
    object_repr = django_filters.CharFilter(
        help_text="Natural code of the changed record (exact), e.g. a bag code."
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
        ]
