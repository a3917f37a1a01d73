"""Who may read what through the API: Django model permissions, including for GET.

DRF's `DjangoModelPermissions` lets anyone authenticated read; here reading needs the
model's `view_*` permission, as the admin does. Unsafe methods keep DRF's mapping
(add/change/delete), and the viewsets are read-only, so a write is refused with 403
(no permission) or 405 (no such method) — never carried out.
"""

from rest_framework.permissions import BasePermission, DjangoModelPermissions


class ReadModelPermissions(DjangoModelPermissions):
    """GET, HEAD and OPTIONS need `<app>.view_<model>` on the view's queryset model."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def _queryset(self, view):
        """Only the model is read of it: the view's own `queryset` when it has one, not
        `get_queryset()`, which scopes it to the reader's sites (`for_user`) — built again
        for the page a moment later."""
        queryset = getattr(view, "queryset", None)
        return queryset if queryset is not None else super()._queryset(view)


class HasViewPermissions(BasePermission):
    """For views that read several models at once (the traces): every listed permission.

    The view declares `required_permissions = ("batches.view_donor", ...)`; a user needs
    all of them, because the response shows records of every one of those models.
    """

    message = "Your role may not read every record this view shows."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.has_perms(getattr(view, "required_permissions", ()))
