"""The admin of audited records, shared by every app, and of the trail itself.

`AuditedAdmin` is the one base of an admin page over a regulated record: it never saves,
changes or deletes a record itself. Each write goes to the app's service through the
hooks a subclass fills in (`create_record`, `change_record`, `delete_record`, and each
inline's `save_row` / `delete_row`), which lock, check, write and put the audit event
on the trail with the logged-in user and the reason typed in the form. A refusal
(`DomainError`) rolls the whole request back and is shown as messages, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from audit.history import history_for
from audit.models import AuditCheckpoint, AuditEvent, Signature
from core.exceptions import DomainError
from core.paginators import LargeTablePaginator
from core.widgets import ADMIN_FORMFIELD_OVERRIDES

# The reason on the trail of a record deleted from the admin (its page asks for none).
DELETED_IN_THE_ADMIN = "deleted in the admin"


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


class ReasonForm(forms.ModelForm):
    """Adds the change reason the audit trail records (required for corrections)."""

    change_reason = forms.CharField(
        label="Reason for change",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Recorded on the audit trail with your name.",
    )
    reason_needed = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.reason_needed:
            field = self.fields["change_reason"]
            field.required = True
            field.help_text = (
                "This record is closed (a QP has decided on it): any change is a "
                "correction and needs a written reason, recorded on the audit trail."
            )


def stored_snapshot(obj) -> dict:
    """The record as it was loaded (before the form changed it)."""
    return getattr(obj, "_audit_loaded", None) or obj.audit_snapshot()


def needs_reason(obj) -> bool:
    """Whether a change to this stored record is a correction that needs a reason."""
    return obj is not None and obj.pk is not None and obj.reason_required(stored_snapshot(obj))


def changed_values(obj, changed, names) -> dict:
    """{name: new value} of the fields among `names` that a form changed (`changed`: its
    `changed_data`) on `obj`: what a correction service takes."""
    return {name: getattr(obj, name) for name in changed if name in names}


def adopt(obj, saved) -> None:
    """Make the admin's object the record a service saved (its primary key and the values
    the service or the model computed), so that the admin's log, messages, redirect and
    inlines name the record as stored."""
    if saved is None or saved is obj:
        return
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db
    obj._audit_loaded = stored_snapshot(saved)


# "Delete selected" all or nothing: a refusal rolls back the other deletions and the
# admin's log of them.
atomic_delete_selected = transaction.atomic(delete_selected)


@dataclass(frozen=True)
class RecordServices:
    """The service functions that write one model: their names in `module`, looked up
    at each call (so that a test, or a later module, can replace one)."""

    module: ModuleType
    create: str
    correct: str
    delete: str | None = None

    def __getitem__(self, which: str):
        return getattr(self.module, getattr(self, which))


class IsoDateFields:
    """Dates and times typed ISO style, 24-hour, in the site's zone (`core.widgets`): no
    admin calendar, clock or "You are N hours behind server time" note."""

    formfield_overrides = ADMIN_FORMFIELD_OVERRIDES


class ScopedReads(IsoDateFields):
    """Admin reads through `for_user` (`core.querysets`): a changelist lists what the
    user may see, a change page of anything else answers 404 (Django's admin would
    redirect with "does not exist", telling that the id is taken), and every foreign-key
    choice offers only what the user may see, so a form cannot be pointed at another
    site's record by editing the posted id.

    A changelist never counts a large table in full (`core.paginators`): its count is
    exact up to 10,000 rows, estimated beyond, and the unfiltered total is not counted.
    """

    paginator = LargeTablePaginator
    show_full_result_count = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset.for_user(request.user) if hasattr(queryset, "for_user") else queryset

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(f"No {opts.verbose_name} with this id.")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.remote_field.model
        queryset = kwargs.get("queryset")
        if queryset is None:
            queryset = related._default_manager.all()
        if hasattr(queryset, "for_user"):
            kwargs["queryset"] = queryset.for_user(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ServiceWrites:
    """What an admin or inline over a regulated record must say: how each write is made.

    Unimplemented hooks refuse loudly (a programming error), never fall back to a save.
    """

    def _unwired(self, hook: str):
        return NotImplementedError(
            f"{type(self).__name__}.{hook}: a regulated record is written only through "
            "its service; name the service here."
        )


class AuditedInline(ScopedReads, ServiceWrites, admin.TabularInline):
    """Inline rows written by the app's service, never by the formset.

    `save_row(request, parent, obj, changed, reason)` records a new row or a stored one
    whose fields `changed` names (the service refuses moving a stored row to another
    parent); `delete_row(request, obj, reason)` deletes one. `save_row` returns what the
    service returned, which the parent admin's `after_write` reports.
    """

    extra = 0

    def save_row(self, request, parent, obj, changed: list[str], reason: str):
        raise self._unwired("save_row")

    def delete_row(self, request, obj, reason: str):
        raise self._unwired("delete_row")


class ReadOnlyInline(ScopedReads, admin.TabularInline):
    """Rows shown on their parent's page, written elsewhere (by a service or an action)."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AuditedAdmin(ScopedReads, ServiceWrites, AuditHistoryMixin, admin.ModelAdmin):
    """Admin base for audited records: every write through the app's service.

    Most admins only declare `record_fields` (what the form records) and
    `record_services` (the create, correct and delete functions): a new record is
    created from `record_fields`, a stored one corrected with the fields the form
    changed, a deleted one removed through the delete service. An admin with other needs
    overrides `create_record(request, obj, form, reason)`, `change_record(...)` (each
    returns the saved record, or `obj` when nothing changed) or `delete_record(request,
    obj, reason)`. An admin with no delete service offers no deletion, and a record whose
    change needs a written reason (a QP has decided on it) is never deleted here.
    Changelists show what `for_user(request.user)` lets the user see.
    """

    form = ReasonForm
    record_fields: tuple[str, ...] = ()
    record_services: RecordServices | None = None

    def _service(self, which: str):
        if self.record_services is None or getattr(self.record_services, which) is None:
            raise self._unwired(f"{which} (record_services)")
        return self.record_services[which]

    def create_record(self, request, obj, form, reason: str):
        fields = {name: form.cleaned_data[name] for name in self.record_fields}
        return self._service("create")(actor=request.user, reason=reason, **fields)

    def change_record(self, request, obj, form, reason: str):
        return self.correct_fields(request, obj, form, reason, self.record_fields)

    def correct_fields(self, request, obj, form, reason: str, fields):
        """Correct the `fields` the form changed (none changed: nothing is written)."""
        changes = changed_values(obj, form.changed_data, fields)
        if not changes:
            return obj
        return self._service("correct")(obj, actor=request.user, reason=reason, **changes)

    def delete_record(self, request, obj, reason: str):
        self._service("delete")(obj, actor=request.user, reason=reason)

    def after_write(self, request, saved) -> None:
        """Called with what each service returned: say what the user must know."""

    def deletes_records(self) -> bool:
        if type(self).delete_record is not AuditedAdmin.delete_record:
            return True
        return self.record_services is not None and self.record_services.delete is not None

    # Reads ---------------------------------------------------------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"reason_needed": needs_reason(obj)})

    def _reason(self, request, form=None) -> str:
        if form is not None and hasattr(form, "cleaned_data"):
            request._audit_reason = form.cleaned_data.get("change_reason", "").strip()
        return getattr(request, "_audit_reason", "")

    # Writes: each through a service ---------------------------------------------------

    def save_model(self, request, obj, form, change):
        reason = self._reason(request, form)
        write = self.change_record if change else self.create_record
        saved = write(request, obj, form, reason)
        adopt(obj, saved)
        self.after_write(request, saved)

    def save_formset(self, request, form, formset, change):
        rows = formset.save(commit=False)  # collects new, changed and deleted rows only
        if not (rows or formset.deleted_objects):
            return
        inline = self._inline_of(formset)
        reason = self._reason(request)
        for obj in formset.deleted_objects:
            inline.delete_row(request, obj, reason)
        changed = {id(obj): names for obj, names in formset.changed_objects}
        for obj in rows:
            saved = inline.save_row(request, form.instance, obj, changed.get(id(obj), []), reason)
            adopt(obj, saved)
            self.after_write(request, saved)

    def _inline_of(self, formset) -> AuditedInline:
        for inline_class in self.inlines:
            if inline_class.model is formset.model and issubclass(inline_class, AuditedInline):
                return inline_class(self.model, self.admin_site)
        raise self._unwired(f"inline of {formset.model.__name__}")

    def delete_model(self, request, obj):
        self.delete_record(request, obj, DELETED_IN_THE_ADMIN)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_record(request, obj, DELETED_IN_THE_ADMIN)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions[name] = (atomic_delete_selected, name, description)
        return actions

    def has_delete_permission(self, request, obj=None):
        if not self.deletes_records() or needs_reason(obj):
            return False
        own_rule = getattr(obj, "deletion_refusal", None)  # the service asks it too
        if own_rule is not None and own_rule():
            return False
        return super().has_delete_permission(request, obj)

    # Refusals: the transaction has rolled back, nothing was saved; say why ------------

    def _refused(self, request, error: DomainError):
        for message in error.messages:
            self.message_user(request, message, messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            return self._refused(request, error)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:
            return self._refused(request, error)

    def changelist_view(self, request, extra_context=None):
        try:
            return super().changelist_view(request, extra_context)
        except DomainError as error:  # a bulk action, e.g. "delete selected", refused
            return self._refused(request, error)


class ReadOnlyAdmin(ScopedReads, admin.ModelAdmin):
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
