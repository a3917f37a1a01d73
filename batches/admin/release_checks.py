"""Release checks: read-only rows on a batch's page, and their own changelist.

Recording and deleting go through `batches.services` (`record_check`, `delete_check`);
whoever records checks does it on the batch's grid (`batches.admin.checks`).
"""

from __future__ import annotations

from django.contrib import admin

from audit.admin import ReadOnlyInline
from batches import services
from batches.admin.base import ProductionAdmin
from batches.models import ReleaseCheck


def record_check_row(request, batch, check, reason):
    """A release check's row or page, recorded through `services.record_check` (which
    computes pass/fail, refuses moving a stored result to another item or batch, and
    puts a released batch that now fails on hold)."""
    return services.record_check(
        batch,
        check.item,
        actor=request.user,
        tested_on=check.tested_on,
        value=check.result_value,
        text=check.result_text,
        reason=reason,
        correcting=check if check.pk else None,
    )


def delete_check_row(request, check, reason):
    services.delete_check(check, actor=request.user, reason=reason)


class ReleaseCheckRows(ReadOnlyInline):
    """The checks, read-only, for a user who may read them but not record them (the QP,
    an auditor): whoever records them has them once, on the grid
    (`batches.admin.checks`); their history is on the audit trail."""

    model = ReleaseCheck
    fields = ["item", "result_value", "result_text", "tested_on", "passed"]
    readonly_fields = fields
    verbose_name_plural = "release checks"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("item", "batch")


@admin.register(ReleaseCheck)
class ReleaseCheckAdmin(ProductionAdmin):
    list_display = ["batch", "item", "result_value", "result_text", "passed", "tested_on"]
    list_filter = ["passed", "item__category"]
    search_fields = ["batch__din", "item__parameter"]
    list_select_related = ["batch", "item", "item__specification"]
    readonly_fields = ["passed", "recorded_at"]

    def create_record(self, request, obj, form, reason):
        return record_check_row(request, obj.batch, obj, reason)

    # The form's batch and item are the ones asked for: the service refuses a move.
    change_record = create_record

    def delete_record(self, request, obj, reason):
        delete_check_row(request, obj, reason)
