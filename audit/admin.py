from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from audit.history import history_for
from audit.models import AuditCheckpoint, AuditEvent, Signature


class AuditHistoryMixin:
    """Replaces the admin's History page with the record's audit-trail events."""

    def history_view(self, request, object_id, extra_context=None):
        obj = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"History: {obj}",
            "subtitle": None,
            "object": obj,
            "opts": self.opts,
            "events": history_for(obj),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "audit/admin_history.html", context)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only records: visible to staff with the view permission, never editable."""

    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "seq",
        "occurred_at",
        "actor_username",
        "origin",
        "action",
        "object_type",
        "object_repr",
        "short_hash",
    )
    list_filter = ("origin", "action", "object_type", "occurred_at")
    search_fields = ("object_repr", "object_id", "actor_username", "reason", "hash")
    date_hierarchy = "occurred_at"
    ordering = ("-seq",)
    show_full_result_count = False  # COUNT(*) over millions of events on every page
    list_select_related = ("actor",)

    @admin.display(description="hash")
    def short_hash(self, obj):
        return f"{obj.hash[:12]}…"


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ("signed_at", "printed_name", "meaning", "object_type", "object_id")
    list_filter = ("meaning", "object_type", "signed_at")
    search_fields = ("printed_name", "object_id", "content_hash")
    date_hierarchy = "signed_at"


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin):
    list_display = ("seq", "recorded_at", "recorded_by", "event_hash", "key_fingerprint")
    ordering = ("-seq",)
