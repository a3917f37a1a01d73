"""One scoping path for every read: `queryset.for_user(user)`.

Pages, admin changelists, API collections, traces and exports all narrow what they show
through `for_user`: the model's `view_` permission first, then the user's sites. `core` is
the lowest layer, so the sites app registers how a user's sites are read
(`register_site_scope`, called from `SitesConfig.ready`); each app's queryset narrows
`scoped_to` to the rows of those sites (`sites.querysets.SiteScopedQuerySet`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import models

_site_scope: Callable | None = None


def register_site_scope(reader: Callable) -> None:
    """`reader(user)` answers the user's sites (an object with `empty`); the sites app."""
    global _site_scope
    _site_scope = reader


def site_scope_of(user):
    """The user's sites as the sites app reads them (None before it registered)."""
    return None if _site_scope is None else _site_scope(user)


def has_no_site(user) -> bool:
    """Whether `user` belongs to no site (and so sees nothing of their role's work)."""
    if _site_scope is None or user is None or not user.is_authenticated:
        return False
    return _site_scope(user).empty


class ScopedQuerySet(models.QuerySet):
    """A queryset that knows what a given user may see of it."""

    def for_user(self, user):
        """The rows `user` may see: none for an anonymous user, one without the model's
        view permission or one of no site; otherwise `scoped_to(user)`."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        opts = self.model._meta
        if not user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
            return self.none()
        if has_no_site(user):
            return self.none()
        return self.scoped_to(user)

    def scoped_to(self, user):
        """Narrow to the rows of the user's sites; site-independent records (the audit
        checkpoints, say) keep this default. A user of no site gets nothing from
        `for_user` before this is asked."""
        return self
