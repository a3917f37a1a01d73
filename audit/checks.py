"""System check: no regulated model may escape the audit trail."""

from django.apps import apps
from django.core.checks import Error, register

REGULATED_APPS = ("batches", "patients", "dosing")


def audit_coverage_errors(models) -> list[Error]:
    """Errors for every concrete model that would change without audit events."""
    from audit.audited import AuditedModel

    errors = []
    for model in models:
        opts = model._meta
        if opts.abstract or opts.proxy or opts.auto_created:
            continue
        if not issubclass(model, AuditedModel):
            errors.append(
                Error(
                    f"{opts.label} is a regulated record but does not subclass "
                    "audit.audited.AuditedModel, so its changes would not reach the audit "
                    "trail.",
                    hint="Inherit from AuditedModel (and use PROTECT for foreign keys).",
                    obj=model,
                    id="audit.E001",
                )
            )
            continue
        for field in opts.local_many_to_many:
            if field.remote_field.through._meta.auto_created:
                errors.append(
                    Error(
                        f"{opts.label}.{field.name} is a many-to-many field with an "
                        "automatic through table: adding or removing links would skip the "
                        "audit trail.",
                        hint="Use an explicit through model that subclasses AuditedModel.",
                        obj=field,
                        id="audit.E002",
                    )
                )
    return errors


@register()
def check_regulated_models_are_audited(app_configs=None, **kwargs):
    errors = []
    for label in REGULATED_APPS:
        try:
            config = apps.get_app_config(label)
        except LookupError:
            continue
        if app_configs is not None and config not in app_configs:
            continue
        errors.extend(audit_coverage_errors(config.get_models()))
    return errors


@register(deploy=True)
def check_checkpoint_key(app_configs=None, **kwargs):
    """`check --deploy` fails without AUDIT_CHECKPOINT_KEY: without it the checkpoints,
    the only defence against a chain recomputed by someone with database access, are
    off."""
    from django.conf import settings

    if (getattr(settings, "AUDIT_CHECKPOINT_KEY", "") or "").strip():
        return []
    return [
        Error(
            "AUDIT_CHECKPOINT_KEY is not set: audit-trail checkpoints cannot be signed or "
            "checked, so a rewritten and re-hashed chain would pass verification.",
            hint="Set AUDIT_CHECKPOINT_KEY in the environment to a long random value kept "
            "outside the database (docs/operations.md).",
            id="audit.E003",
        )
    ]
