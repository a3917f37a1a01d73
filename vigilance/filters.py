"""FilterSets of vigilance, shared by the pages and the auditor API."""

import django_filters

from core.api.filters import BooleanFilter, DateTimeRangeFilter, FilterSet, batch_code_q
from vigilance.imputability import Imputability
from vigilance.models import ReactionReport, Recall


class RecallFilterSet(FilterSet):
    batch = django_filters.CharFilter(method="filter_batch", help_text="Batch code.")
    donor = django_filters.CharFilter(field_name="batch__donor__code", help_text="Donor code.")
    recalled_at = DateTimeRangeFilter(
        help_text="Recalled in this range (`recalled_at_after`, `recalled_at_before`)."
    )

    class Meta:
        model = Recall
        fields = ["batch", "donor", "recalled_at"]

    def filter_batch(self, queryset, name, value):
        return queryset.filter(**batch_code_q("batch__", value))


class ReactionReportFilterSet(FilterSet):
    patient = django_filters.CharFilter(
        field_name="adverse_event__patient__code", help_text="Patient code."
    )
    hospital = django_filters.CharFilter(
        field_name="adverse_event__patient__hospital__code",
        help_text="Hospital site code of the patient, e.g. HUS or FJD.",
    )
    imputability = django_filters.MultipleChoiceFilter(
        choices=Imputability.choices, help_text="One or more imputability levels."
    )
    reporting_date = django_filters.DateFromToRangeFilter(
        help_text="Reported in this range (`reporting_date_after`, `reporting_date_before`)."
    )
    part_a_submitted_at = DateTimeRangeFilter(help_text="Part A submitted in this range.")
    part_b_submitted = BooleanFilter(
        field_name="part_b_signature",
        lookup_expr="isnull",
        exclude=True,
        help_text="true: part B submitted; false: part B still due.",
    )

    class Meta:
        model = ReactionReport
        fields = [
            "patient",
            "hospital",
            "imputability",
            "reporting_date",
            "part_a_submitted_at",
            "part_b_submitted",
        ]
