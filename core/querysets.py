"""One scoping path for every read: `queryset.for_user(user)`.

Pages, admin changelists, API collections, traces and exports all narrow what they show
through `for_user`. Today it scopes by role (the model's `view_` permission); the network
(sites) narrows `scoped_to` per app, so there is one path to extend, not one per page.
"""

from __future__ import annotations

from django.db import models


class ScopedQuerySet(models.QuerySet):
    """A queryset that knows what a given user may see of it."""

    def for_user(self, user):
        """The rows `user` may see: none for an anonymous user or one without the model's
        view permission; otherwise `scoped_to(user)`."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        opts = self.model._meta
        if not user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
            return self.none()
        return self.scoped_to(user)

    def scoped_to(self, user):
        """Narrow to the rows of the user's sites. Every role sees the whole record today;
        an app's queryset overrides this when its records belong to sites."""
        return self
