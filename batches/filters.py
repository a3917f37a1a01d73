"""FilterSets for production records, shared by the auditor API (and pages that want them).

Date ranges take `<field>_after` / `<field>_before` (ISO dates or date-times, inclusive);
codes match exactly. A value that does not parse is a 400 with the field's message.
"""

import django_filters

from batches.models import Bag, Batch, Donor, ReleaseCheck, SpecificationItem
from core.api.filters import BooleanFilter, DateTimeRangeFilter, FilterSet, batch_code_q


def _filter_batch_code(prefix):
    def method(queryset, name, value):
        return queryset.filter(**batch_code_q(prefix, value))

    return method


class DonorFilterSet(FilterSet):
    code = django_filters.CharFilter(help_text="Donor code (exact).")
    sex = django_filters.ChoiceFilter(choices=Donor.Sex.choices, help_text="F or M.")
    consent_for_clinical_use = BooleanFilter(
        help_text="Whether specific consent for clinical use is on file."
    )
    created_at = DateTimeRangeFilter(
        help_text="Registered in this range (`created_at_after`, `created_at_before`)."
    )
    facility = django_filters.CharFilter(
        field_name="batches__facility__fin",
        distinct=True,
        help_text="Donors with a batch made at this facility (FIN).",
    )

    class Meta:
        model = Donor
        fields = ["code", "sex", "consent_for_clinical_use", "created_at", "facility"]


class BatchFilterSet(FilterSet):
    code = django_filters.CharFilter(
        method=lambda qs, name, value: qs.filter(**batch_code_q("", value)),
        help_text="Batch code: DIN with its check character (or the bare DIN).",
    )
    status = django_filters.MultipleChoiceFilter(
        choices=Batch.Status.choices, help_text="One or more statuses (repeat the parameter)."
    )
    donor = django_filters.CharFilter(field_name="donor__code", help_text="Donor code.")
    facility = django_filters.CharFilter(field_name="facility__fin", help_text="Facility FIN.")
    impd_reference = django_filters.CharFilter(help_text="IMPD reference, e.g. PEI-15-103.")
    created_at = DateTimeRangeFilter(
        help_text="Created in this range (`created_at_after`, `created_at_before`)."
    )
    cryopreserved_on = django_filters.DateFromToRangeFilter(
        help_text="Cryopreserved in this range (`cryopreserved_on_after`, `_before`)."
    )
    expires_on = django_filters.DateFromToRangeFilter(
        help_text="Expiring in this range (`expires_on_after`, `expires_on_before`)."
    )

    class Meta:
        model = Batch
        fields = [
            "code",
            "status",
            "donor",
            "facility",
            "impd_reference",
            "created_at",
            "cryopreserved_on",
            "expires_on",
        ]


class BagFilterSet(FilterSet):
    code = django_filters.CharFilter(help_text="Bag code (exact).")
    status = django_filters.MultipleChoiceFilter(
        choices=Bag.Status.choices, help_text="One or more statuses (repeat the parameter)."
    )
    batch = django_filters.CharFilter(
        method=_filter_batch_code("batch__"), help_text="Batch code (DIN + check character)."
    )
    donor = django_filters.CharFilter(field_name="batch__donor__code", help_text="Donor code.")
    facility = django_filters.CharFilter(
        field_name="batch__facility__fin", help_text="Facility FIN."
    )
    created_at = DateTimeRangeFilter(
        help_text="Labelled in this range (`created_at_after`, `created_at_before`)."
    )

    class Meta:
        model = Bag
        fields = ["code", "status", "batch", "donor", "facility", "created_at"]


class ReleaseCheckFilterSet(FilterSet):
    batch = django_filters.CharFilter(
        method=_filter_batch_code("batch__"), help_text="Batch code (DIN + check character)."
    )
    donor = django_filters.CharFilter(field_name="batch__donor__code", help_text="Donor code.")
    facility = django_filters.CharFilter(
        field_name="batch__facility__fin", help_text="Facility FIN."
    )
    passed = BooleanFilter(help_text="true: passed; false: failed.")
    category = django_filters.ChoiceFilter(
        field_name="item__category",
        choices=SpecificationItem.Category.choices,
        help_text="Category of the specification item.",
    )
    parameter = django_filters.CharFilter(
        field_name="item__parameter", help_text="Parameter, e.g. CD73 (exact)."
    )
    tested_on = django_filters.DateFromToRangeFilter(
        help_text="Tested in this range (`tested_on_after`, `tested_on_before`)."
    )

    class Meta:
        model = ReleaseCheck
        fields = ["batch", "donor", "facility", "passed", "category", "parameter", "tested_on"]
