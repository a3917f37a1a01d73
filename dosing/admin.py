"""Dosing records in the admin: read-only (changes go through the pharmacy and clinic
forms and their services), except the protocol, which staff with the change permission
edit through `dosing.services.protocols` (the shared base `audit.admin.AuditedAdmin`)."""

from django.contrib import admin, messages

from audit.admin import AuditedAdmin, AuditHistoryMixin, IsoDateFields, RecordServices
from dosing.models import AdverseEvent, Dose, DoseBag, Infusion, Preparation, Protocol
from dosing.services import protocols


class ReadOnlyAdmin(IsoDateFields, AuditHistoryMixin, admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Protocol)
class ProtocolAdmin(AuditedAdmin):
    """Protocol versions, written by `dosing.services.protocols`: a new version with an
    optional reason, a change with a required one, never a deletion."""

    list_display = ["code", "version", "active", "target_cells_per_kg", "max_doses"]
    list_filter = ["active"]
    record_fields = protocols.FIELDS
    record_services = RecordServices(protocols, "create_protocol", "update_protocol")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            # `update_protocol` refuses a change without a reason: the form asks first.
            form.reason_needed = True
        return form

    def get_readonly_fields(self, request, obj=None):
        """A version used by doses is read-only but for `active`: a change of a setting is
        a new version (add one), so each dose keeps the rules it was given under."""
        if obj is not None and obj.in_use:
            return list(Protocol.SETTINGS)
        return super().get_readonly_fields(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and obj.in_use and request.method == "GET":
            messages.info(
                request,
                f"{obj} is used by doses: its settings are read-only. To change one, add a "
                "new version of the protocol (and deactivate this one).",
            )
        return super().change_view(request, object_id, form_url, extra_context)


class DoseBagInline(IsoDateFields, admin.TabularInline):
    model = DoseBag
    fields = ["bag", "cells", "volume_ml", "live", "reserved_at", "released_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Dose)
class DoseAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "status", "batch", "planned_for", "delivered_cells"]
    list_filter = ["status"]
    search_fields = ["patient__code", "batch__din"]
    list_select_related = ["patient", "batch"]
    inlines = [DoseBagInline]


@admin.register(Preparation)
class PreparationAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "method", "thawed_at", "harvested_at", "viable_cells"]
    list_select_related = ["dose__patient"]


@admin.register(Infusion)
class InfusionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "started_at", "ended_at", "filter_200um_confirmed"]
    list_select_related = ["dose__patient"]


@admin.register(AdverseEvent)
class AdverseEventAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "ctcae_grade", "serious", "outcome", "causality"]
    list_filter = ["serious", "causality", "ctcae_grade"]
    list_select_related = ["patient"]
