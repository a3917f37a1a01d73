"""Tell a user with a role but no site why their pages are empty."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from sites.scope import site_scope

NO_SITE_NOTICE = (
    "Your account is not a member of any hospital or GMP facility, so you see none of "
    "your role's records. Ask an administrator to add you to your site."
)


def _notice(user) -> str:
    if not user.is_authenticated or user.is_superuser or not site_scope(user).empty:
        return ""
    return NO_SITE_NOTICE if user.groups.exists() else ""


def site_notice(request) -> dict:
    """`site_notice`: the no-site message, or "" (evaluated only where a page shows it;
    the user's scope is the one the page's querysets already read)."""
    user = getattr(request, "user", None)
    if user is None:
        return {"site_notice": ""}
    return {"site_notice": SimpleLazyObject(lambda: _notice(user))}
