"""The published figures in the admin: read-only for everyone but a superuser, whose
entries and corrections go through `reports.services` (audited, a correction with its
written reason); never deleted."""

from django.contrib import admin

from audit.admin import AuditedAdmin, RecordServices
from reports import services
from reports.models import PublishedFigure


@admin.register(PublishedFigure)
class PublishedFigureAdmin(AuditedAdmin):
    list_display = ["protocol_code", "figure", "value", "as_published", "source"]
    list_filter = ["protocol_code"]
    search_fields = ["figure", "source"]
    record_fields = services.FIELDS
    record_services = RecordServices(
        services, "create_published_figure", "correct_published_figure"
    )

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False
