"""Site records in the admin: every write through `sites.services`, on the audit trail
with the logged-in user (the shared base is `audit.admin.AuditedAdmin`)."""

from django.contrib import admin

from audit.admin import AuditedAdmin, RecordServices
from audit.models import AuditEvent
from sites import services
from sites.models import FACILITY_FORMER_OBJECT_TYPES, Facility, Hospital, Membership
from sites.scope import site_scope


class OwnSitesListFilter(admin.RelatedFieldListFilter):
    """A filter by facility or hospital that offers only the user's own sites (their
    `site_scope`; every site for the whole network): a changelist scoped to the user's
    records never names another site in its filters. No query beyond the sites'."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        scope = site_scope(request.user)
        if scope.network_wide:
            return field.get_choices(include_blank=False, ordering=ordering)
        own = scope.facility_ids if field.related_model is Facility else scope.hospital_ids
        return field.get_choices(
            include_blank=False, ordering=ordering, limit_choices_to={"pk__in": sorted(own)}
        )


def facility_history(facility):
    """The facility's audit events, oldest first, including those written while it was
    `batches.facility` (the append-only trail keeps the name an event was written with)."""
    types = [facility._meta.label_lower, *FACILITY_FORMER_OBJECT_TYPES]
    return (
        AuditEvent.objects.filter(object_type__in=types, object_id=str(facility.pk))
        .select_related("actor")
        .order_by("seq")
    )


@admin.register(Facility)
class FacilityAdmin(AuditedAdmin):
    list_display = ["fin", "name", "authorisation_ref"]
    search_fields = ["fin", "name"]
    record_fields = services.FACILITY_FIELDS
    record_services = RecordServices(
        services, "create_facility", "correct_facility", "delete_facility"
    )

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        extra = {"events": facility_history(obj)} if obj is not None else {}
        return super().history_view(request, object_id, {**extra, **(extra_context or {})})


@admin.register(Hospital)
class HospitalAdmin(AuditedAdmin):
    """A hospital of the network, added by an administrator without a deploy."""

    list_display = ["code", "name", "patient_code_prefix", "time_zone", "notification_email"]
    search_fields = ["code", "name"]
    record_fields = services.HOSPITAL_FIELDS
    record_services = RecordServices(
        services, "create_hospital", "correct_hospital", "delete_hospital"
    )


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin):
    """Who works where: an administrator adds a user to a facility, a hospital, or (an
    auditor) the whole network, and removes them with a reason. A membership is not
    edited: remove it and add the right one, so the trail says when each began and ended.
    No role has these permissions: only a superuser assigns sites."""

    list_display = ["user", "facility", "hospital", "network_wide"]
    list_filter = ["network_wide", "facility", "hospital"]
    search_fields = ["user__username", "facility__fin", "hospital__code"]
    record_fields = ("user", "facility", "hospital", "network_wide")
    record_services = RecordServices(
        services, "add_membership", "add_membership", "remove_membership"
    )

    def get_readonly_fields(self, request, obj=None):
        return self.record_fields if obj is not None else ()
