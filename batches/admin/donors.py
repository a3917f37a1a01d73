"""Donors with their serology and procurement, evaluated criterion by criterion.

Every row is written through `batches.services`: serology and procurement re-check the
donor's released batches (and put on hold any that now fail); a recorded row stays with
its donor (the service refuses a move) and, once a QP has decided on a batch from the
donor, is corrected, never deleted.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from audit.admin import AuditedInline, RecordServices
from batches import services
from batches.admin.base import ProductionAdmin
from batches.models import Donor, Procurement, SerologyResult
from batches.rules import donor_eligibility, is_donor_eligible

STATUS_ICON = {"met": "✔", "not_met": "✘", "missing": "?"}


def record_donor_row(request, donor, obj, reason):
    """A serology or procurement row of `donor`, recorded (or, when stored, corrected)
    through its service (`record_serology`, `record_procurement`)."""
    record = (
        services.record_serology
        if isinstance(obj, SerologyResult)
        else services.record_procurement
    )
    return record(
        donor,
        actor=request.user,
        reason=reason,
        correcting=obj if obj.pk else None,
        **{name: getattr(obj, name) for name in type(obj).RECORD_FIELDS},
    )


def delete_donor_row(request, obj, reason):
    delete = (
        services.delete_serology
        if isinstance(obj, SerologyResult)
        else services.delete_procurement
    )
    delete(obj, actor=request.user, reason=reason)


class DonorRecordInline(AuditedInline):
    """Serology and procurement rows on the donor's page (see `record_donor_row`)."""

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.has_decided_batch():
            return False
        return super().has_delete_permission(request, obj)

    def save_row(self, request, parent, obj, changed, reason):
        return record_donor_row(request, parent, obj, reason)

    def delete_row(self, request, obj, reason):
        delete_donor_row(request, obj, reason)


class SerologyInline(DonorRecordInline):
    model = SerologyResult
    fields = list(SerologyResult.RECORD_FIELDS)


class ProcurementInline(DonorRecordInline):
    model = Procurement
    fields = list(Procurement.RECORD_FIELDS)


@admin.register(Donor)
class DonorAdmin(ProductionAdmin):
    list_display = ["code", "age_at_donation", "sex", "consent_for_clinical_use", "eligible"]
    list_filter = ["sex", "consent_for_clinical_use"]
    search_fields = ["code"]
    readonly_fields = ["eligibility", "created_at"]
    inlines = [SerologyInline, ProcurementInline]
    record_fields = Donor.RECORD_FIELDS
    record_services = RecordServices(services, "create_donor", "update_donor", "delete_donor")
    fieldsets = [
        (None, {"fields": [*Donor.RECORD_FIELDS, "change_reason"]}),
        ("Eligibility, criterion by criterion", {"fields": ["eligibility"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("serology", "procurements")

    def get_readonly_fields(self, request, obj=None):
        # A donor stays with the facility that registered them.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "facility"] if obj is not None else fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "facility":
            # A new donor is registered at one of the user's facilities (their staff see
            # the donor); the only one, when the user works at one.
            field.required = True
            facilities = list(field.queryset[:2])
            if len(facilities) == 1:
                field.initial = facilities[0].pk
        return field

    @admin.display(boolean=True, description="eligible")
    def eligible(self, obj):
        return is_donor_eligible(obj)

    @admin.display(description="eligibility")
    def eligibility(self, obj):
        if obj is None or obj.pk is None:
            return "Save the donor, then add serology and procurement to evaluate."
        rows = format_html_join(
            "",
            # The status ("✔ met") stays on one line, however narrow the column.
            '<tr><td class="status" style="white-space: nowrap">{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (STATUS_ICON[c.status] + " " + c.status.replace("_", " "), c.name, c.detail)
                for c in donor_eligibility(obj)
            ),
        )
        return format_html(
            '<table class="eligibility"><thead><tr><th>Status</th><th>Criterion</th>'
            "<th>Detail</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )


class DonorRecordAdmin(ProductionAdmin):
    """A serology or procurement page: written like the donor page's rows."""

    def create_record(self, request, obj, form, reason):
        return record_donor_row(request, obj.donor, obj, reason)

    # The form's donor is the one asked for: the service refuses moving a stored row.
    change_record = create_record

    def delete_record(self, request, obj, reason):
        delete_donor_row(request, obj, reason)


@admin.register(SerologyResult)
class SerologyResultAdmin(DonorRecordAdmin):
    list_display = ["donor", "test", "result", "sampled_on"]
    list_filter = ["test", "result"]
    search_fields = ["donor__code"]
    list_select_related = ["donor"]


@admin.register(Procurement)
class ProcurementAdmin(DonorRecordAdmin):
    list_display = ["donor", "procured_on", "site", "lipoaspirate_volume_ml", "fat_weight_g"]
    search_fields = ["donor__code"]
    list_select_related = ["donor"]
