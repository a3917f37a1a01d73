from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from audit.history import history_for


class AuditHistoryMixin:
    """Replaces the admin's History page with the record's audit-trail events."""

    def history_view(self, request, object_id, extra_context=None):
        obj = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_or_change_permission(request, obj):
            from django.core.exceptions import PermissionDenied

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
