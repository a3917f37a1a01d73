"""Protocol versions through the auditor API: every setting a dose was given under.

A version used by doses never changes its settings (`Protocol.clean`), so what this
answers for a version is what each of its doses was calculated and checked under; each
dose names its version (`protocol_version` in `/api/v1/doses/`).
"""

import django_filters
from django.db.models import Count
from rest_framework import serializers

from core.api.filters import FilterSet
from core.api.viewsets import AuditorViewSet
from dosing.models import Protocol

SETTING_HELP = {
    "id": "Identifier of the protocol version (the doses' `protocol_version.id`).",
    "code": "Protocol code; with `version`, its natural key.",
    "version": "Version number of the code (a changed setting is a new version).",
    "active": "Whether new doses may use it (they use the newest active version).",
    "effective_from": "Date from which the version applies.",
    "target_cells_per_kg": "Target dose (cells per kg of body weight).",
    "min_cells_per_kg": "Lowest acceptable dose (cells per kg), inclusive.",
    "max_cells_per_kg": "Highest acceptable dose (cells per kg), inclusive.",
    "max_doses": "Most doses a patient may receive (1 to 3).",
    "min_interval_hours": "Earliest next dose after the previous infusion (hours).",
    "max_interval_hours": "Latest next dose after the previous infusion (hours).",
    "refresh_max_culture_hours": "A refreshed product is cultured for less than this (hours).",
    "harvest_to_infusion_max_hours": "A refreshed product is infused within this of harvest "
    "(hours).",
    "thaw_to_infusion_max_minutes": "A thawed product starts infusion within this of thawing "
    "(minutes).",
    "premedication_required_for_thawed": "Whether a thawed product needs premedication.",
    "premedication": "The premedication given before a thawed product.",
    "assessment_max_age_days": "Dose 1 is ordered on an assessment at most this many days "
    "old (days).",
    "weight_max_age_days": "A dose is calculated from a weight at most this many days old (days).",
    "refresh_max_expansion": "A refreshed viable count is at most the thawed bags' cells "
    "times this (factor).",
    "filter_microns": "Transfusion filter the infusion is given through (micrometres).",
    "overrides_allowed": "Whether a dose outside the range may be given on a named "
    "physician's written reason.",
    "in_use": "Whether doses were given under this version (its settings are then fixed).",
}
FIELDS = ["id", *Protocol.SETTINGS, "active"]


class ProtocolSerializer(serializers.ModelSerializer):
    """Every field of the protocol version, typed as the model stores it."""

    in_use = serializers.SerializerMethodField(help_text=SETTING_HELP["in_use"])

    class Meta:
        model = Protocol
        fields = [*FIELDS, "in_use"]
        extra_kwargs = {
            name: {"help_text": text} for name, text in SETTING_HELP.items() if name != "in_use"
        }

    def get_in_use(self, protocol) -> bool:
        # Annotated by the viewset (one query for the page), else asked of the record.
        used = getattr(protocol, "dose_count", None)
        return protocol.in_use if used is None else used > 0


class ProtocolFilterSet(FilterSet):
    code = django_filters.CharFilter(help_text="Protocol code.")
    version = django_filters.NumberFilter(help_text="Version number.")
    active = django_filters.BooleanFilter(help_text="true: versions new doses may use.")

    class Meta:
        model = Protocol
        fields = ["code", "version", "active"]


class ProtocolViewSet(AuditorViewSet):
    """Every protocol version with every setting (the network's: every site reads it)."""

    queryset = Protocol.objects.annotate(dose_count=Count("doses"))
    serializer_class = ProtocolSerializer
    filterset_class = ProtocolFilterSet
    ordering = ["id"]
    ordering_fields = ["id", "code", "version", "effective_from"]
    csv_filename = "protocols"
