"""Site records in the admin: every write is on the audit trail with the logged-in user."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from audit.admin import AuditHistoryMixin
from audit.context import audit_context
from audit.models import AuditEvent
from core.exceptions import DomainError
from sites.models import FACILITY_FORMER_OBJECT_TYPES, Facility


class FacilityForm(forms.ModelForm):
    """Adds the change reason the audit trail records (a facility never requires one)."""

    change_reason = forms.CharField(
        label="Reason for change",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Recorded on the audit trail with your name.",
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
class FacilityAdmin(AuditHistoryMixin, admin.ModelAdmin):
    form = FacilityForm
    list_display = ["fin", "name", "authorisation_ref"]
    search_fields = ["fin", "name"]

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

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            # The transaction has rolled back: nothing was saved. Say why, never a 500.
            for message in error.messages:
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        extra = {"events": facility_history(obj)} if obj is not None else {}
        return super().history_view(request, object_id, {**extra, **(extra_context or {})})
