"""FilterSets for patients, shared by the auditor API (and pages that want them)."""

import django_filters

from core.api.filters import BooleanFilter, DateTimeRangeFilter, FilterSet
from patients.models import Patient


class PatientFilterSet(FilterSet):
    code = django_filters.CharFilter(help_text="Patient code (exact).")
    hospital = django_filters.CharFilter(
        field_name="hospital__code", help_text="Hospital site code, e.g. HUS or FJD."
    )
    sex = django_filters.ChoiceFilter(choices=Patient.Sex.choices, help_text="F or M.")
    consent_by_relatives = BooleanFilter(help_text="Whether the relatives' consent is on file.")
    created_at = DateTimeRangeFilter(
        help_text="Registered in this range (`created_at_after`, `created_at_before`)."
    )

    class Meta:
        model = Patient
        fields = ["code", "hospital", "sex", "consent_by_relatives", "created_at"]
