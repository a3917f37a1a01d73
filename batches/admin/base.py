"""What every production admin page shares beyond the audited base (`audit.admin`):
holds reported after a write, compact inline selects, and the intermediate page an
action shows before it runs."""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import reverse

from audit.admin import AuditedAdmin
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


class ProductionAdmin(AuditedAdmin):
    """A production record's admin (`audit.admin.AuditedAdmin`: every write through
    `batches.services`) that says plainly when a change put a released batch on hold."""

    def after_write(self, request, saved) -> None:
        for hold in getattr(saved, "holds", None) or ():
            self.message_user(request, hold.message, messages.WARNING)


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
