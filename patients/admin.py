"""Read-only admin pages for patient records, with the audit trail as their history.

Patient records change only through `patients.services` (the pharmacy and clinic pages),
so the admin shows them and their trail and offers no add, change or delete.
"""

from django.contrib import admin

from audit.admin import AuditHistoryMixin, IsoDateFields
from patients.models import (
    ClinicalAssessment,
    ClinicalOutcome,
    Observation,
    Patient,
    WeightMeasurement,
)
from sites.admin import OwnSitesListFilter


class ReadOnlyAuditedAdmin(IsoDateFields, AuditHistoryMixin, admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class WeightInline(IsoDateFields, admin.TabularInline):
    model = WeightMeasurement
    fields = ("measured_on", "weight_kg")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Patient)
class PatientAdmin(ReadOnlyAuditedAdmin):
    list_display = ("code", "hospital", "sex", "age_years", "birth_date", "created_at")
    list_filter = (("hospital", OwnSitesListFilter), "sex")
    search_fields = ("code",)
    inlines = [WeightInline]


@admin.register(WeightMeasurement)
class WeightMeasurementAdmin(ReadOnlyAuditedAdmin):
    list_display = ("patient", "measured_on", "weight_kg")
    list_select_related = ("patient",)
    search_fields = ("patient__code",)


@admin.register(ClinicalAssessment)
class ClinicalAssessmentAdmin(ReadOnlyAuditedAdmin):
    list_display = ("patient", "assessed_on", "sofa_score", "who_ordinal_scale")
    list_select_related = ("patient",)
    search_fields = ("patient__code",)


@admin.register(Observation)
class ObservationAdmin(ReadOnlyAuditedAdmin):
    list_display = ("patient", "kind", "value", "unit", "observed_at")
    list_filter = ("kind",)
    list_select_related = ("patient",)
    search_fields = ("patient__code",)


@admin.register(ClinicalOutcome)
class ClinicalOutcomeAdmin(ReadOnlyAuditedAdmin):
    list_display = ("patient", "kind", "occurred_on")
    list_filter = ("kind",)
    list_select_related = ("patient",)
    search_fields = ("patient__code",)
