"""The production tool: donors, batches, checks, bags and the QP's signed decision.

Every admin write reaches the audit trail with the logged-in user as actor. Records a QP
has decided on (and the donor data behind them) ask for a written reason before any
change; state changes (submit, release, reject, bag creation) go through the services.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from audit.admin import AuditHistoryMixin
from audit.context import audit_context
from audit.models import Signature
from audit.signatures import SignatureError, signature_matches
from batches import services
from batches.exceptions import BatchError
from batches.models import (
    MAX_BAG_CELLS,
    MIN_BAG_CELLS,
    Bag,
    BagEvent,
    Batch,
    Donor,
    Facility,
    Procurement,
    ReleaseCheck,
    ReleaseSpecification,
    SerologyResult,
    SpecificationItem,
    StorageLocation,
    decided_batches,
)
from batches.rules import donor_eligibility, is_donor_eligible, release_failures
from core.exceptions import DomainError

STATUS_ICON = {"met": "✔", "not_met": "✘", "missing": "?"}


def local_time(value) -> str:
    """A stored (UTC) time as the user reads it: local, "2026-05-01 10:28". The zone is
    named once per page (see `local_times_note`), never per time."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def local_times_note() -> str:
    return f"Times are local ({timezone.get_current_timezone_name()})."


def no_related_links(formset, *names):
    """Drop the add/change/view/delete icons next to these selects of an inline: in a
    table row they push the later columns out of a 1024 px screen."""
    for name in names:
        field = formset.form.base_fields.get(name)
        if field is None:
            continue
        for attr in ("can_add_related", "can_change_related", "can_view_related"):
            setattr(field.widget, attr, False)
        if hasattr(field.widget, "can_delete_related"):
            field.widget.can_delete_related = False
    return formset


def _stored(obj) -> dict:
    return getattr(obj, "_audit_loaded", None) or obj.audit_snapshot()


def needs_reason(obj) -> bool:
    """Whether a change to this stored record is a correction that needs a reason."""
    return obj is not None and obj.pk is not None and obj.reason_required(_stored(obj))


class ReasonForm(forms.ModelForm):
    """Adds the change reason the audit trail records (required for corrections)."""

    change_reason = forms.CharField(
        label="Reason for change",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Recorded on the audit trail with your name.",
    )
    reason_needed = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.reason_needed:
            field = self.fields["change_reason"]
            field.required = True
            field.help_text = (
                "This record is closed (a QP has decided on it): any change is a "
                "correction and needs a written reason, recorded on the audit trail."
            )


class AuditedAdmin(AuditHistoryMixin, admin.ModelAdmin):
    """Admin base for audited records: writes run inside `audit_context(request.user)`."""

    form = ReasonForm

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"reason_needed": needs_reason(obj)})

    def _reason(self, request, form=None) -> str:
        if form is not None and hasattr(form, "cleaned_data"):
            request._audit_reason = form.cleaned_data.get("change_reason", "").strip()
        return getattr(request, "_audit_reason", "")

    def save_model(self, request, obj, form, change):
        with audit_context(actor=request.user, reason=self._reason(request, form)):
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        with audit_context(actor=request.user, reason=self._reason(request)):
            super().save_related(request, form, formsets, change)

    def delete_model(self, request, obj):
        with audit_context(actor=request.user, reason="deleted in the admin"):
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with audit_context(actor=request.user, reason="deleted in the admin"):
            super().delete_queryset(request, queryset)

    def has_delete_permission(self, request, obj=None):
        if needs_reason(obj):
            return False
        return super().has_delete_permission(request, obj)

    def report_holds(self, request, holds) -> None:
        """Say plainly that a change put a released batch back on hold, and why."""
        for hold in holds or ():
            self.message_user(request, hold.message, messages.WARNING)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            # The transaction has rolled back: nothing was saved. Say why, never a 500.
            for message in error.messages:
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# Facilities, storage, specifications --------------------------------------------------


@admin.register(Facility)
class FacilityAdmin(AuditedAdmin):
    list_display = ["fin", "name", "authorisation_ref"]
    search_fields = ["fin", "name"]


@admin.register(StorageLocation)
class StorageLocationAdmin(AuditedAdmin):
    list_display = ["__str__", "tank", "rack", "box", "position", "occupied_by"]
    list_filter = ["tank"]
    search_fields = ["tank", "rack", "box", "position", "bags__code"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("bags")

    @admin.display(description="bag")
    def occupied_by(self, obj):
        bags = list(obj.bags.all())
        return bags[0].code if bags else "—"


class SpecificationItemInline(admin.TabularInline):
    model = SpecificationItem
    extra = 0
    fields = [
        "category",
        "parameter",
        "kind",
        "lower_limit",
        "upper_limit",
        "expected_result",
        "unit",
        "required",
    ]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_in_use():
            return False  # a version used for a decision is frozen: make a new version
        return super().has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        if obj is not None and obj.is_in_use():
            return False
        return super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_in_use():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(ReleaseSpecification)
class ReleaseSpecificationAdmin(AuditedAdmin):
    list_display = ["code", "version", "effective_from", "is_active", "item_count"]
    list_filter = ["is_active"]
    inlines = [SpecificationItemInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_total=Count("items"))

    @admin.display(description="items", ordering="item_total")
    def item_count(self, obj):
        return obj.item_total

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if request.method == "GET" and obj is not None and obj.is_in_use():
            self.message_user(request, IN_USE_MESSAGE.format(spec=obj), messages.INFO)
        return super().change_view(request, object_id, form_url, extra_context)


IN_USE_MESSAGE = (
    "Specification {spec} has been used for a QP release or rejection: it is frozen. "
    "To change a limit, create a new version of the specification."
)


@admin.register(SpecificationItem)
class SpecificationItemAdmin(AuditedAdmin):
    """Items of a version a QP decision was made against are read-only here as in the
    specification's inline (the model refuses the change too): make a new version."""

    list_display = ["parameter", "specification", "category", "criterion", "required"]
    list_filter = ["specification", "category"]
    list_select_related = ["specification"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "specification":
            # A new item goes only into a version no QP decision was made against.
            used = decided_batches(Batch.objects.all()).values("specification_id")
            kwargs["queryset"] = ReleaseSpecification.objects.exclude(pk__in=used)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.specification.is_in_use():
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.specification.is_in_use():
            return False
        return super().has_delete_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if request.method == "GET" and obj is not None and obj.specification.is_in_use():
            self.message_user(
                request, IN_USE_MESSAGE.format(spec=obj.specification), messages.INFO
            )
        return super().change_view(request, object_id, form_url, extra_context)


# Donors -------------------------------------------------------------------------------


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


# Batches ------------------------------------------------------------------------------


class ReleaseCheckInline(admin.TabularInline):
    model = ReleaseCheck
    extra = 0
    # The item reads "parameter criterion" (e.g. "CD73 ≥ 95 %"), so the criterion needs
    # no column of its own: every column fits a 1024 px screen.
    fields = ["item", "result_value", "result_text", "tested_on", "passed"]
    readonly_fields = ["passed"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None and "item" in formset.form.base_fields:
            formset.form.base_fields["item"].queryset = SpecificationItem.objects.filter(
                specification_id=obj.specification_id
            )
        return no_related_links(formset, "item")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("item", "batch")

    def _editable(self, request, obj):
        return obj is None or not obj.is_locked or BatchAdmin.correcting(request)

    def has_add_permission(self, request, obj=None):
        return self._editable(request, obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return (
            obj is not None
            and obj.status == Batch.Status.IN_PRODUCTION
            and (super().has_delete_permission(request, obj))
        )


class BagInline(ReadOnlyInline):
    model = Bag
    fields = ["code", "cells", "volume_ml", "location", "status"]
    readonly_fields = fields

    @admin.display(description="cells (×10⁶)")
    def cells(self, obj):
        return millions(obj.nominal_cells)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("location", "batch")


class SignForm(forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Re-enter your password: it is your electronic signature.",
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("The password is not correct: nothing was signed.")
        return password


class ReleaseForm(SignForm):
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))


class RejectForm(SignForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why the batch is rejected (e.g. which check failed).",
    )


MILLION = 1_000_000


def millions(cells: int | None) -> str:
    """A cell count as people say it: 60000000 → "60", 62500000 → "62.5" (×10⁶)."""
    if cells is None:
        return "—"
    return format((Decimal(cells) / MILLION).normalize(), "f")


class CreateBagsForm(forms.Form):
    """The bags of a batch. Cells are typed in millions ("60" = 60 ×10⁶): an eight-digit
    count invites a slipped digit (6000000 for 60000000); `clean` turns it into cells."""

    count = forms.IntegerField(
        min_value=1, max_value=services.BOX_POSITIONS, initial=12, label="Number of bags"
    )
    nominal_cells_million = forms.DecimalField(
        label="Cells per bag (×10⁶)",
        decimal_places=2,
        initial=60,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
        help_text=(
            f"In millions of cells: 60 means 60 ×10⁶ = 60,000,000 cells per bag. A bag holds "
            f"{millions(MIN_BAG_CELLS)}–{millions(MAX_BAG_CELLS)} ×10⁶ cells."
        ),
    )
    volume_ml = forms.DecimalField(
        min_value=0.1, max_digits=6, decimal_places=1, initial=20, label="Volume per bag (ml)"
    )
    product_code = forms.RegexField(
        regex=r"^[Ss]\d{4}[Vv]\d{2}$",
        initial=services.DEFAULT_PRODUCT_CODE,
        help_text="ISBT 128 product code: S + 4 digits + V + 2 digits.",
    )
    tank = forms.CharField(max_length=20, initial="LN2-1")
    rack = forms.CharField(max_length=20)
    box = forms.CharField(max_length=20, help_text="Bags take its first free positions.")

    def clean_nominal_cells_million(self):
        value = self.cleaned_data["nominal_cells_million"]
        low, high = millions(MIN_BAG_CELLS), millions(MAX_BAG_CELLS)
        if value >= 10_000:  # 10¹⁰ cells in one bag: surely a count of cells
            raise forms.ValidationError(
                f"Enter millions of cells, not cells: {millions(int(value))} for "
                f"{int(value):,} cells. A bag holds {low}–{high} ×10⁶ cells."
            )
        cells = value * MILLION  # a whole number: at most 2 decimal places
        if not MIN_BAG_CELLS <= cells <= MAX_BAG_CELLS:
            raise forms.ValidationError(
                f"A bag holds {low}–{high} ×10⁶ cells: {millions(int(cells))} ×10⁶ is "
                f"{'too few' if cells < MIN_BAG_CELLS else 'too many'}."
            )
        return value

    def clean(self):
        cleaned = super().clean()
        value = cleaned.pop("nominal_cells_million", None)
        if value is not None:
            cleaned["nominal_cells"] = int(value * MILLION)
        return cleaned


@admin.register(Batch)
class BatchAdmin(AuditedAdmin):
    # What production and the QP look for first (code, status) comes first; short
    # headers and the facility's FIN keep every column on a 1024 px screen.
    list_display = [
        "code",
        "status",
        "donor",
        "facility_fin",
        "passages",
        "expires_on",
        "bag_count",
    ]
    list_filter = ["status", "facility"]
    search_fields = ["din", "donor__code"]
    list_select_related = ["donor", "facility"]
    readonly_fields = [
        "code",
        "status",
        "status_changed",
        "release_readiness",
        "signature_status",
        "created_at",
    ]
    inlines = [ReleaseCheckInline, BagInline]
    actions = [
        "submit_for_release_action",
        "release_action",
        "reject_action",
        "create_bags_action",
    ]
    IDENTITY_FIELDS = ["din", "donor", "procurement", "facility", "specification"]

    def get_fieldsets(self, request, obj=None):
        main = [
            "code" if obj else "din",
            "din" if obj else None,
            "donor",
            "procurement",
            "facility",
            "impd_reference",
            "specification",
            "population_doublings",
            "passages",
            "cryopreserved_on",
            "expires_on",
            "viability_pct",
        ]
        main = [f for f in main if f]
        sets = [(None, {"fields": main})]
        if obj is not None:
            sets.append(
                (
                    "Status and QP decision",
                    {
                        "description": local_times_note(),
                        "fields": [
                            "status",
                            "status_changed",
                            "release_readiness",
                            "signature_status",
                        ],
                    },
                )
            )
        if obj is None or not obj.is_locked or self.correcting(request):
            sets.append(("Audit", {"fields": ["change_reason"]}))
        return sets

    @staticmethod
    def correcting(request) -> bool:
        return request.GET.get("correct") == "1" or request.POST.get("_correct") == "1"

    def has_change_permission(self, request, obj=None):
        # A released or rejected batch is read-only; "Correct" opens it for a correction
        # that needs a reason.
        if obj is not None and obj.is_locked and not self.correcting(request):
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is None:
            return fields
        if obj.is_locked and not self.correcting(request):
            return fields + [
                "din",
                "donor",
                "procurement",
                "facility",
                "specification",
                *Batch.CORRECTABLE_FIELDS,
            ]
        if obj.status != Batch.Status.IN_PRODUCTION:
            # Identity is fixed once the batch has left production.
            return fields + self.IDENTITY_FIELDS
        return fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(bag_total=Count("bags"))

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        spec = ReleaseSpecification.objects.filter(is_active=True).order_by("-version").first()
        if spec is not None:
            initial.setdefault("specification", spec.pk)
        initial.setdefault("impd_reference", "PEI-15-103")
        return initial

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None and obj.is_locked:
            extra_context["correcting"] = self.correcting(request)
            extra_context["can_correct"] = super().has_change_permission(request, obj)
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        reason = self._reason(request, form)
        if change and (obj.is_locked or obj.reason_required(_stored(obj))):
            # A correction (released, rejected, or on hold after release): the service
            # re-checks the release rules and puts a failing released batch on hold.
            changes = {
                f: form.cleaned_data[f] for f in form.changed_data if f in Batch.CORRECTABLE_FIELDS
            }
            if changes:
                corrected = services.correct_batch(
                    obj, actor=request.user, reason=reason, **changes
                )
                self.report_holds(request, corrected.holds)
            return
        with audit_context(actor=request.user, reason=reason):
            obj.save()

    def save_formset(self, request, form, formset, change):
        if formset.model is not ReleaseCheck:
            return super().save_formset(request, form, formset, change)
        reason = self._reason(request)
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj.delete()
        for inline_form in formset.forms:
            check = inline_form.instance
            if check not in instances:
                continue
            self.report_holds(
                request, record_check_from_admin(request, check, inline_form, reason).holds
            )
        return None

    @admin.display(description="bags", ordering="bag_total")
    def bag_count(self, obj):
        return obj.bag_total

    @admin.display(description="facility", ordering="facility__fin")
    def facility_fin(self, obj):
        return obj.facility.fin

    @admin.display(description="status changed at")
    def status_changed(self, obj):
        return local_time(obj.status_changed_at) if obj and obj.status_changed_at else "—"

    @admin.display(description="release readiness")
    def release_readiness(self, obj):
        if obj is None or obj.pk is None:
            return ""
        if obj.status not in (Batch.Status.IN_PRODUCTION, Batch.Status.QUARANTINE):
            return "—"
        failures = release_failures(obj)
        if not failures:
            return "Ready for QP release."
        return format_html(
            "<ul class='release-failures'>{}</ul>",
            format_html_join("", "<li>{}</li>", ((f,) for f in failures)),
        )

    @admin.display(description="QP signature")
    def signature_status(self, obj):
        if obj is None or obj.pk is None:
            return ""
        signature = obj.decision_signature()
        if signature is None:
            return "Not signed."
        if signature_matches(signature, obj.signature_content()):
            verdict = "✔ matches the current record"
        else:
            verdict = "✘ no longer matches the current record (changed after signing)"
        return format_html(
            "{} by {} at {} — SHA-256 {}… — <strong>{}</strong>{}",
            signature.get_meaning_display(),
            signature.printed_name,
            local_time(signature.signed_at),
            signature.content_hash[:16],
            verdict,
            format_html("<br>Comment: {}", signature.comment) if signature.comment else "",
        )

    # Actions ----------------------------------------------------------------------

    def has_release_permission(self, request):
        return request.user.has_perm("batches.release_batch")

    def has_create_bags_permission(self, request):
        return request.user.has_perm("batches.add_bag")

    def _report(self, request, batch, error: DomainError, verb: str):
        for message in error.messages:
            self.message_user(
                request, f"Batch {batch.code} cannot be {verb}: {message}", messages.ERROR
            )

    @admin.action(description="Submit for release (to quarantine)", permissions=["change"])
    def submit_for_release_action(self, request, queryset):
        for batch in queryset:
            try:
                services.submit_for_release(batch, actor=request.user)
            except DomainError as error:
                self._report(request, batch, error, "submitted")
            else:
                self.message_user(request, f"Batch {batch.code} submitted for QP release.")

    # The meaning a signature made from each signing page records.
    SIGNATURE_MEANINGS = {
        "release_action": Signature.Meaning.RELEASED,
        "reject_action": Signature.Meaning.REJECTED,
    }

    def _intermediate(self, request, queryset, *, form, action, title, button, template):
        releasing = action == "release_action"
        rows = [
            {
                "batch": batch,
                "url": reverse("admin:batches_batch_change", args=[batch.pk]),
                "failures": release_failures(batch) if releasing else [],
            }
            for batch in queryset
        ]
        blocked = [row["batch"] for row in rows if row["failures"]]
        meaning = self.SIGNATURE_MEANINGS.get(action)
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "queryset": queryset,
            "rows": rows,
            "releasing": releasing,
            # A batch failing a release rule cannot be released: the page says so and
            # offers no release button (the service would refuse it anyway).
            "blocked": blocked,
            "meaning": meaning.label if meaning else "",
            "form": form,
            "adminform": admin.helpers.AdminForm(
                form, [(None, {"fields": list(form.fields)})], {}
            ),
            "action": action,
            "button": button,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "printed_name": request.user.get_full_name(),
            "can_reject": releasing and self.has_release_permission(request),
        }
        return TemplateResponse(request, template, context)

    def _signing(self, request, queryset, form_class, *, action, title, button, verb, sign_one):
        form = form_class(request.POST if "apply" in request.POST else None, user=request.user)
        if "apply" in request.POST and form.is_valid():
            for batch in queryset:
                try:
                    sign_one(batch, form.cleaned_data)
                except DomainError as error:
                    self._report(request, batch, error, verb)
                    if isinstance(error, SignatureError):
                        break
            return None
        return self._intermediate(
            request,
            queryset,
            form=form,
            action=action,
            title=title,
            button=button,
            template="admin/batches/batch/sign.html",
        )

    @admin.action(description="Release (QP signature)", permissions=["release"])
    def release_action(self, request, queryset):
        def sign_one(batch, data):
            with transaction.atomic():
                services.release_batch(
                    batch,
                    actor=request.user,
                    password=data["password"],
                    comment=data.get("comment", ""),
                )
            self.message_user(
                request,
                f"Batch {batch.code} released and signed by {request.user.get_full_name()}.",
            )

        return self._signing(
            request,
            queryset,
            ReleaseForm,
            action="release_action",
            title="Release batches: QP electronic signature",
            button="Release and sign",
            verb="released",
            sign_one=sign_one,
        )

    @admin.action(description="Reject (QP signature)", permissions=["release"])
    def reject_action(self, request, queryset):
        def sign_one(batch, data):
            services.reject_batch(
                batch, actor=request.user, password=data["password"], reason=data["reason"]
            )
            self.message_user(
                request,
                f"Batch {batch.code} rejected and signed by {request.user.get_full_name()}; "
                "its bags are discarded.",
                messages.WARNING,
            )

        return self._signing(
            request,
            queryset,
            RejectForm,
            action="reject_action",
            title="Reject batches: QP electronic signature",
            button="Reject and sign",
            verb="rejected",
            sign_one=sign_one,
        )

    @admin.action(description="Create bags", permissions=["create_bags"])
    def create_bags_action(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one batch to create bags.", messages.ERROR)
            return None
        batch = queryset.get()
        form = CreateBagsForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            try:
                bags = services.create_bags(batch, actor=request.user, **form.cleaned_data)
            except DomainError as error:
                for message in error.messages:
                    form.add_error(None, message)
            else:
                self.message_user(
                    request,
                    f"{len(bags)} bags created for batch {batch.code}: "
                    f"{bags[0].code} … {bags[-1].code}, each "
                    f"{millions(bags[0].nominal_cells)} ×10⁶ cells "
                    f"({bags[0].nominal_cells:,} cells) in {bags[0].volume_ml} ml.",
                )
                return HttpResponseRedirect(reverse("admin:batches_batch_change", args=[batch.pk]))
        return self._intermediate(
            request,
            queryset,
            form=form,
            action="create_bags_action",
            title=f"Create bags for batch {batch.code}",
            button="Create bags",
            template="admin/batches/batch/create_bags.html",
        )


def record_check_from_admin(request, check, form, reason):
    """An admin row or page for a release check, recorded through `services.record_check`
    (which computes pass/fail and puts a released batch that now fails on hold)."""
    if check.pk and {"item", "batch"} & set(form.changed_data):
        raise BatchError(
            "A recorded result cannot be moved to another item or batch: correct its "
            "value, and record the other item as a new result."
        )
    return services.record_check(
        check.batch,
        check.item,
        actor=request.user,
        tested_on=check.tested_on,
        value=check.result_value,
        text=check.result_text,
        reason=reason,
    )


@admin.register(ReleaseCheck)
class ReleaseCheckAdmin(AuditedAdmin):
    list_display = ["batch", "item", "result_value", "result_text", "passed", "tested_on"]
    list_filter = ["passed", "item__category"]
    search_fields = ["batch__din", "item__parameter"]
    list_select_related = ["batch", "item", "item__specification"]
    readonly_fields = ["passed", "recorded_at"]

    def save_model(self, request, obj, form, change):
        saved = record_check_from_admin(request, obj, form, self._reason(request, form))
        obj.pk = saved.pk
        self.report_holds(request, saved.holds)


# Bags ---------------------------------------------------------------------------------


class BagEventInline(ReadOnlyInline):
    model = BagEvent
    fields = ["occurred_at", "from_status", "to_status", "actor", "location", "note"]
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Bag)
class BagAdmin(AuditedAdmin):
    list_display = ["code", "batch", "status", "nominal_cells", "volume_ml", "location"]
    list_filter = ["status", "batch__facility"]
    search_fields = ["code", "batch__din"]
    list_select_related = ["batch", "location"]
    readonly_fields = [
        "code",
        "batch",
        "product_code",
        "division",
        "nominal_cells",
        "volume_ml",
        "status",
        "discard_reason",
        "created_at",
    ]
    fields = [*readonly_fields[:-1], "location", "change_reason", "created_at"]
    inlines = [BagEventInline]

    def has_add_permission(self, request):
        return False  # bags are made by the batch's "Create bags" action

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.location_id is None:
            return [*self.readonly_fields, "location"]
        return self.readonly_fields


@admin.register(BagEvent)
class BagEventAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["bag", "from_status", "to_status", "occurred_at", "actor", "location"]
    list_filter = ["to_status"]
    search_fields = ["bag__code"]
    list_select_related = ["bag", "actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
