"""FilterSets for doses, infusions and adverse events (auditor API)."""

import django_filters

from core.api.filters import BooleanFilter, DateTimeRangeFilter, FilterSet, batch_code_q
from dosing.models import AdverseEvent, Dose, Infusion


def _batch(prefix):
    def method(queryset, name, value):
        return queryset.filter(**batch_code_q(prefix, value))

    return method


class DoseFilterSet(FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=Dose.Status.choices, help_text="One or more statuses (repeat the parameter)."
    )
    patient = django_filters.CharFilter(field_name="patient__code", help_text="Patient code.")
    hospital = django_filters.CharFilter(
        field_name="patient__hospital__code", help_text="Hospital site code."
    )
    batch = django_filters.CharFilter(method=_batch("batch__"), help_text="Batch code.")
    donor = django_filters.CharFilter(field_name="batch__donor__code", help_text="Donor code.")
    facility = django_filters.CharFilter(
        field_name="batch__facility__fin", help_text="Facility FIN of the batch."
    )
    number = django_filters.ChoiceFilter(
        choices=[(1, "1"), (2, "2"), (3, "3")], help_text="Dose number (1, 2 or 3)."
    )
    planned_for = DateTimeRangeFilter(
        help_text="Planned in this range (`planned_for_after`, `planned_for_before`)."
    )
    overridden = BooleanFilter(
        method="filter_overridden", help_text="true: doses given on a physician's override."
    )

    class Meta:
        model = Dose
        fields = [
            "status",
            "patient",
            "hospital",
            "batch",
            "donor",
            "facility",
            "number",
            "planned_for",
            "overridden",
        ]

    def filter_overridden(self, queryset, name, value):
        if value is None:
            return queryset
        if value:
            return queryset.exclude(override_physician="")
        return queryset.filter(override_physician="")


class InfusionFilterSet(FilterSet):
    patient = django_filters.CharFilter(
        field_name="dose__patient__code", help_text="Patient code."
    )
    hospital = django_filters.CharFilter(
        field_name="dose__patient__hospital__code", help_text="Hospital site code."
    )
    batch = django_filters.CharFilter(method=_batch("dose__batch__"), help_text="Batch code.")
    donor = django_filters.CharFilter(
        field_name="dose__batch__donor__code", help_text="Donor code."
    )
    started_at = DateTimeRangeFilter(
        help_text="Started in this range (`started_at_after`, `started_at_before`)."
    )

    class Meta:
        model = Infusion
        fields = ["patient", "hospital", "batch", "donor", "started_at"]


class AdverseEventFilterSet(FilterSet):
    patient = django_filters.CharFilter(field_name="patient__code", help_text="Patient code.")
    hospital = django_filters.CharFilter(
        field_name="patient__hospital__code", help_text="Hospital site code."
    )
    batch = django_filters.CharFilter(method=_batch("dose__batch__"), help_text="Batch code.")
    causality = django_filters.MultipleChoiceFilter(
        choices=AdverseEvent.Causality.choices,
        help_text="WHO-UMC causality; repeat for several.",
    )
    serious = BooleanFilter(help_text="true: serious events only; false: non-serious only.")
    outcome = django_filters.MultipleChoiceFilter(
        choices=AdverseEvent.Outcome.choices, help_text="Outcome; repeat for several."
    )
    ctcae_grade = django_filters.ChoiceFilter(
        choices=[(g, str(g)) for g in range(1, 6)], help_text="CTCAE grade (1-5)."
    )
    onset_at = DateTimeRangeFilter(
        help_text="Onset in this range (`onset_at_after`, `onset_at_before`)."
    )

    class Meta:
        model = AdverseEvent
        fields = [
            "patient",
            "hospital",
            "batch",
            "causality",
            "serious",
            "outcome",
            "ctcae_grade",
            "onset_at",
        ]
