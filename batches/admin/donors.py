"""Donors with their serology and procurement, evaluated criterion by criterion.

Serology and procurement rows are saved through the services, which re-check the
donor's released batches (and put on hold any that now fail).
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from audit.context import audit_context
from batches import services
from batches.admin.base import AuditedAdmin
from batches.exceptions import BatchError
from batches.models import Donor, Procurement, SerologyResult
from batches.rules import donor_eligibility, is_donor_eligible

STATUS_ICON = {"met": "✔", "not_met": "✘", "missing": "?"}


class DonorRecordInline(admin.TabularInline):
    """Serology and procurement rows: saved through the services (see DonorAdmin); once
    a QP has decided on a batch from the donor they are corrected, never deleted."""

    extra = 0

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.has_decided_batch():
            return False
        return super().has_delete_permission(request, obj)


class SerologyInline(DonorRecordInline):
    model = SerologyResult
    fields = ["test", "result", "sampled_on"]


class ProcurementInline(DonorRecordInline):
    model = Procurement
    fields = ["procured_on", "site", "lipoaspirate_volume_ml", "fat_weight_g", "performed_by"]


def save_serology(request, donor, obj, reason):
    """The admin's serology row, recorded through `services.record_serology`."""
    return services.record_serology(
        donor,
        actor=request.user,
        test=obj.test,
        result=obj.result,
        sampled_on=obj.sampled_on,
        reason=reason,
        correcting=obj if obj.pk else None,
    )


def save_procurement(request, donor, obj, reason):
    """The admin's procurement row, recorded through `services.record_procurement`."""
    return services.record_procurement(
        donor,
        actor=request.user,
        procured_on=obj.procured_on,
        site=obj.site,
        lipoaspirate_volume_ml=obj.lipoaspirate_volume_ml,
        fat_weight_g=obj.fat_weight_g,
        performed_by=obj.performed_by,
        reason=reason,
        correcting=obj if obj.pk else None,
    )


@admin.register(Donor)
class DonorAdmin(AuditedAdmin):
    list_display = ["code", "age_at_donation", "sex", "consent_for_clinical_use", "eligible"]
    list_filter = ["sex", "consent_for_clinical_use"]
    search_fields = ["code"]
    readonly_fields = ["eligibility", "created_at"]
    inlines = [SerologyInline, ProcurementInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "code",
                    "age_at_donation",
                    "sex",
                    "has_comorbidities",
                    "has_concomitant_treatments",
                    "consent_for_clinical_use",
                    "consent_signed_on",
                    "change_reason",
                ]
            },
        ),
        ("Eligibility, criterion by criterion", {"fields": ["eligibility"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("serology", "procurements")

    def save_model(self, request, obj, form, change):
        reason = self._reason(request, form)
        if not change:
            with audit_context(actor=request.user, reason=reason):
                obj.save()
            return
        changes = {
            f: form.cleaned_data[f] for f in form.changed_data if f in services.DONOR_FIELDS
        }
        if changes:
            updated = services.update_donor(obj, actor=request.user, reason=reason, **changes)
            self.report_holds(request, updated.holds)

    def save_formset(self, request, form, formset, change):
        save_one = {SerologyResult: save_serology, Procurement: save_procurement}.get(
            formset.model
        )
        if save_one is None:
            return super().save_formset(request, form, formset, change)
        reason = self._reason(request)
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj.delete()
        for obj in instances:
            saved = save_one(request, form.instance, obj, reason)
            self.report_holds(request, saved.holds)
        return None

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


class DonorRecordAdmin(AuditedAdmin):
    """Saves through the service, which re-checks the donor's released batches."""

    save_one = None

    def save_model(self, request, obj, form, change):
        if change and "donor" in form.changed_data:
            raise BatchError("A record cannot be moved to another donor: record it again.")
        saved = type(self).save_one(request, obj.donor, obj, self._reason(request, form))
        obj.pk = saved.pk
        self.report_holds(request, saved.holds)


@admin.register(SerologyResult)
class SerologyResultAdmin(DonorRecordAdmin):
    list_display = ["donor", "test", "result", "sampled_on"]
    list_filter = ["test", "result"]
    search_fields = ["donor__code"]
    list_select_related = ["donor"]
    save_one = staticmethod(save_serology)


@admin.register(Procurement)
class ProcurementAdmin(DonorRecordAdmin):
    list_display = ["donor", "procured_on", "site", "lipoaspirate_volume_ml", "fat_weight_g"]
    search_fields = ["donor__code"]
    list_select_related = ["donor"]
    save_one = staticmethod(save_procurement)
