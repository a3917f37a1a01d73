"""What every production admin page shares: audited writes with a change reason,
read-only inlines, and the intermediate page an action shows before it runs."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from audit.admin import AuditHistoryMixin
from audit.context import audit_context
from batches.forms import ReasonForm
from core.exceptions import DomainError


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


def stored_snapshot(obj) -> dict:
    return getattr(obj, "_audit_loaded", None) or obj.audit_snapshot()


def needs_reason(obj) -> bool:
    """Whether a change to this stored record is a correction that needs a reason."""
    return obj is not None and obj.pk is not None and obj.reason_required(stored_snapshot(obj))


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


def report_refusal(modeladmin, request, batch, error: DomainError, verb: str) -> None:
    """An action refused for one batch: each of the service's messages, as an error."""
    for message in error.messages:
        modeladmin.message_user(
            request, f"Batch {batch.code} cannot be {verb}: {message}", messages.ERROR
        )


def action_page(
    modeladmin, request, queryset, *, form, action, title, button, template, failures=None, **extra
):
    """The page a batch action shows before it runs: the batches, the form, a button.

    `failures(batch)`, when given, lists what stops each batch (shown beside it; the
    batches with any are `blocked`). `extra` adds to the template's context.
    """
    rows = [
        {
            "batch": batch,
            "url": reverse("admin:batches_batch_change", args=[batch.pk]),
            "failures": failures(batch) if failures else [],
        }
        for batch in queryset
    ]
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "queryset": queryset,
        "rows": rows,
        "blocked": [row["batch"] for row in rows if row["failures"]],
        "form": form,
        "adminform": admin.helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}),
        "action": action,
        "button": button,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        **extra,
    }
    return TemplateResponse(request, template, context)
