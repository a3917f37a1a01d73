"""User and Group changes on the audit trail.

django.contrib.auth's models cannot inherit AuditedModel, so their changes reach the
trail through signals (see docs/decisions/001-audit-trail.md for why signals are
acceptable here and nowhere else). The password hash is never copied: a change of
password shows as "changed", nothing more. Outside any audit context (users made by
`createsuperuser`, `create_user` in tests) the change is attributed to the system.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from audit.audited import jsonable
from audit.writer import diff, write_event

HIDDEN = ("password",)


def snapshot(instance) -> dict:
    return {
        field.attname: jsonable(getattr(instance, field.attname))
        for field in instance._meta.concrete_fields
        if field.name not in HIDDEN
    }


def _record(instance, *, action: str, changes: dict):
    write_event(
        action=action,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance),
        changes=changes,
    )


def _before_save(sender, instance, raw=False, **kwargs):
    instance._audit_before = None
    instance._audit_password = None
    if raw or instance.pk is None:
        return
    stored = sender._base_manager.filter(pk=instance.pk).first()
    if stored is not None:
        instance._audit_before = snapshot(stored)
        instance._audit_password = getattr(stored, "password", None)


def _after_save(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    before = {} if created else (getattr(instance, "_audit_before", None) or {})
    changes = diff(before, snapshot(instance))
    old_password = getattr(instance, "_audit_password", None)
    if hasattr(instance, "password") and not created and old_password != instance.password:
        changes["password"] = ["(hidden)", "(changed)"]
    if not created and not changes:
        return
    _record(instance, action="create" if created else "update", changes=changes)


def _after_delete(sender, instance, **kwargs):
    _record(instance, action="delete", changes=diff(snapshot(instance), {}))


def _names(model, pks) -> list[str]:
    return sorted(str(obj) for obj in model._base_manager.filter(pk__in=pks))


def _m2m_accessor(instance, through) -> str | None:
    for field in instance._meta.many_to_many:
        if field.remote_field.through is through:
            return field.name
    for rel in instance._meta.related_objects:
        if rel.many_to_many and rel.through is through:
            return rel.get_accessor_name()
    return None


def _m2m_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """groups, user_permissions and permissions: who gained or lost what."""
    if action not in {"post_add", "post_remove", "pre_clear"}:
        return
    name = _m2m_accessor(instance, sender)
    if name is None:
        return
    if action == "pre_clear":
        removed = list(getattr(instance, name).values_list("pk", flat=True))
        if not removed:
            return
        changes = {name: {"removed": _names(model, removed)}}
        action_name = "remove"
    else:
        if not pk_set:
            return
        verb = "added" if action == "post_add" else "removed"
        changes = {name: {verb: _names(model, pk_set)}}
        action_name = "add" if action == "post_add" else "remove"
    _record(instance, action=f"{name}_{action_name}"[:32], changes=changes)


def connect():
    from audit import login_trail

    # Failed logins, lockouts, refused codes; the lockout and authenticator admins.
    login_trail.connect()
    user_model = get_user_model()
    for model in (user_model, Group):
        uid = f"audit-{model._meta.label_lower}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=f"{uid}-pre")
        post_save.connect(_after_save, sender=model, dispatch_uid=f"{uid}-post")
        post_delete.connect(_after_delete, sender=model, dispatch_uid=f"{uid}-delete")
    for through in (
        user_model.groups.through,
        user_model.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(
            _m2m_changed, sender=through, dispatch_uid=f"audit-m2m-{through._meta.label}"
        )
