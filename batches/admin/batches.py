"""Batches and their release checks: recording, readiness, correction after a decision.

Every write goes through `batches.services` (`create_batch`, `correct_batch`,
`record_check`, `delete_check`). A released or rejected batch is read-only until "Make
a correction" (which needs a reason); the QP's decisions come from
`batches.admin.signing`, bag creation from `batches.admin.bags`.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import (
    CharField,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Subquery,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Cast, Coalesce
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from audit.admin import RecordServices, needs_reason
from audit.models import Signature
from audit.signatures import signature_matches
from batches import services
from batches.admin.bags import BagInline, create_bags_action
from batches.admin.base import ProductionAdmin, report_refusal
from batches.admin.checks import CheckGridAdmin
from batches.admin.imports import ResultsImportAdmin
from batches.admin.listing import QuickListing, QuickRows
from batches.admin.release_checks import ReleaseCheckRows
from batches.admin.signing import DECISION_ACTIONS
from batches.models import Bag, Batch, ReleaseCheck, ReleaseSpecification
from batches.querysets import DECISION_MEANINGS
from batches.rules import expires_soon, identity_refusal, release_failures
from core.exceptions import DomainError
from core.formatting import fmt_time, local_times_note
from sites.admin import OwnSitesListFilter

UNDECIDED = (Batch.Status.IN_PRODUCTION, Batch.Status.QUARANTINE)


class BatchChangeList(QuickRows, ChangeList):
    """The batch list: what its readiness column judges (`release_failures`) is read once
    for the page, and only for the rows it judges (in production or quarantine): a page of
    decided batches costs no query for it, and no per-row prefetch. Of the bags the column
    asks only whether one is in quarantine: only those are loaded (so `bags.all()` of such
    a row here is its quarantined bags)."""

    def get_results(self, request):
        super().get_results(request)
        undecided = [batch for batch in self.result_list if batch.status in UNDECIDED]
        quarantined = (
            Bag.objects.filter(status=Bag.Status.QUARANTINE)
            .order_by()
            .only("pk", "batch_id", "status")
        )
        prefetch_related_objects(
            undecided,
            "procurement",
            "specification__items",
            Prefetch("checks", queryset=ReleaseCheck.objects.order_by()),
            Prefetch("bags", queryset=quarantined),
            "donor__serology",
        )


@admin.register(Batch)
class BatchAdmin(QuickListing, CheckGridAdmin, ResultsImportAdmin, ProductionAdmin):
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
        "readiness",
    ]
    list_filter = ["status", ("facility", OwnSitesListFilter)]
    search_fields = ["din", "donor__code"]
    list_select_related = ["donor", "facility"]
    readonly_fields = [
        "code",
        "viability_pct",
        "status",
        "status_changed",
        "release_readiness",
        "signature_status",
        "created_at",
    ]
    inlines = [ReleaseCheckRows, BagInline]
    record_fields = Batch.RECORD_FIELDS
    record_services = RecordServices(services, "create_batch", "correct_batch", "delete_batch")

    def get_inlines(self, request, obj):
        # Whoever may record checks has them once, on the grid (linked at the top).
        if self._may_record(request):
            return [BagInline]
        return self.inlines

    @property
    def actions(self):
        # Read when asked: an app above batches may add a QP decision at start-up
        # (`batches.admin.signing.register_decision`, the recall).
        return ["submit_for_release_action", *DECISION_ACTIONS, create_bags_action]

    def get_fieldsets(self, request, obj=None):
        # Viability is shown, read from its release check, never typed on the batch.
        main = (
            ["code", *Batch.RECORD_FIELDS, *Batch.FROM_CHECKS]
            if obj
            else list(Batch.RECORD_FIELDS)
        )
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
            return fields + list(Batch.RECORD_FIELDS)
        if identity_refusal(obj, Batch.IDENTITY_FIELDS):
            # Identity is fixed once the batch has left production (the service refuses).
            return fields + list(Batch.IDENTITY_FIELDS)
        return fields

    def get_queryset(self, request):
        # The bag count is a subquery per row of the page: a GROUP BY over every bag
        # would be paid by the page query and by the changelist's count alike.
        queryset = super().get_queryset(request).annotate(bag_total=self._bag_total())
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "batches_batch_changelist":
            queryset = queryset.select_related("donor", "facility").annotate(
                signed_decision=Exists(self._decisions())
            )
        return queryset

    def get_changelist(self, request, **kwargs):
        return BatchChangeList

    @staticmethod
    def _bag_total():
        bags = Bag.objects.filter(batch=OuterRef("pk")).order_by().values("batch")
        count = bags.annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(count, output_field=IntegerField()), Value(0))

    @staticmethod
    def _decisions():
        return Signature.objects.filter(
            object_type=Batch._meta.label_lower,
            object_id=Cast(OuterRef("pk"), CharField()),
            meaning__in=DECISION_MEANINGS,
        )

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

    def change_record(self, request, obj, form, reason):
        # A correction once a QP has decided (released, rejected, or on hold after
        # release) changes only the GMP data; the service re-checks the release rules
        # and puts a failing released batch on hold.
        decided = obj.is_locked or needs_reason(obj)
        fields = Batch.CORRECTABLE_FIELDS if decided else Batch.RECORD_FIELDS
        return self.correct_fields(request, obj, form, reason, fields)

    @admin.display(description="bags", ordering="bag_total")
    def bag_count(self, obj):
        return obj.bag_total

    @admin.display(description="facility", ordering="facility__fin")
    def facility_fin(self, obj):
        return obj.facility.fin

    @admin.display(description="status changed at")
    def status_changed(self, obj):
        return fmt_time(obj.status_changed_at) if obj else "—"

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

    @admin.display(description="ready?")
    def readiness(self, obj):
        """At a glance: ready for the QP, fails (the first reasons), expires soon."""
        notes = []
        if obj.status in (Batch.Status.IN_PRODUCTION, Batch.Status.QUARANTINE):
            failures = release_failures(obj, submitting=True)
            if failures:
                more = f" (+{len(failures) - 2} more)" if len(failures) > 2 else ""
                notes.append(
                    format_html(
                        "<span class='readiness-fails' title='{}'>Fails: {}{}</span>",
                        " ".join(failures),
                        " ".join(failures[:2]),
                        more,
                    )
                )
            else:
                notes.append(
                    format_html("<span class='readiness-ready'>{}</span>", "Ready for QP")
                )
        live = (Batch.Status.IN_PRODUCTION, Batch.Status.QUARANTINE, Batch.Status.RELEASED)
        if obj.status in live and expires_soon(obj):
            notes.append(
                format_html(
                    "<span class='readiness-expires'>Expires soon ({})</span>", obj.expires_on
                )
            )
        return format_html_join(" ", "{}", ((n,) for n in notes)) if notes else "—"

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
            fmt_time(signature.signed_at),
            signature.content_hash[:16],
            verdict,
            format_html("<br>Comment: {}", signature.comment) if signature.comment else "",
        )

    # Actions ----------------------------------------------------------------------

    def has_release_permission(self, request):
        return request.user.has_perm("batches.release_batch")

    def has_create_bags_permission(self, request):
        return request.user.has_perm("batches.add_bag")

    @admin.action(description="Submit for release (to quarantine)", permissions=["change"])
    def submit_for_release_action(self, request, queryset):
        """Submit the selected batches to the QP. If any fails a release rule, its
        failures are shown first and the submission waits for a confirmation."""
        failing = {
            batch.pk: release_failures(batch, submitting=True)
            for batch in queryset
            if batch.status == Batch.Status.IN_PRODUCTION
        }
        failing = {pk: lines for pk, lines in failing.items() if lines}
        if failing and "confirm" not in request.POST:
            return self._submit_confirmation(request, queryset, failing)
        for batch in queryset:
            try:
                services.submit_for_release(batch, actor=request.user)
            except DomainError as error:
                report_refusal(self, request, batch, error, "submitted")
            else:
                lines = failing.get(batch.pk)
                if lines:
                    self.message_user(
                        request,
                        f"Batch {batch.code} submitted for QP release although it fails "
                        f"{len(lines)} release rule(s): the QP cannot release it until "
                        "they are met.",
                        messages.WARNING,
                    )
                else:
                    self.message_user(request, f"Batch {batch.code} submitted for QP release.")

    def _submit_confirmation(self, request, queryset, failing):
        rows = [
            {
                "batch": batch,
                "url": reverse("admin:batches_batch_change", args=[batch.pk]),
                "failures": failing.get(batch.pk, []),
            }
            for batch in queryset
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Submit for release: these batches fail release rules",
            "opts": self.opts,
            "rows": rows,
            "action": "submit_for_release_action",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/batches/batch/submit_confirm.html", context)
