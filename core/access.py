"""What a user may do, held per user in the shared cache: no permission queries per request.

Every request used to ask the database for the user's permissions (two queries, Django's
`ModelBackend`) and memberships (one, `sites.scope`). They change seldom — an
administrator edits a group or a membership — so they are kept in the `access` cache
(Redis with `REDIS_URL`, else the database cache; the tests use memory), one entry per
user, read in one round trip with the version of all access data:

- `ACCESS_VERSION_KEY` holds a random version. Every change to a group, a permission, a
  user's groups or permissions, a membership or a site bumps it (signals, see
  `register_invalidation`), once at the change and again when its transaction commits,
  so no request can keep a copy read before the change.
- An entry records the version it was computed under (read *before* the database) and
  the user's superuser flag; an entry of another version or flag is computed again. A
  lost key (evicted, flushed) only costs a recomputation: versions are never reused.

`CachedPermissionBackend` (first in `AUTHENTICATION_BACKENDS` after the lockout) fills
Django's own per-object permission caches from the entry, so `has_perm` and
`ModelBackend` answer without a query; other per-user facts (the sites) are registered
by their apps with `register_user_fact`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.contrib.auth.backends import ModelBackend
from django.core.cache import caches
from django.db import transaction

CACHE_ALIAS = "access"
ACCESS_VERSION_KEY = "access:version"
# Defence in depth: an entry is recomputed at least this often even without a change.
ENTRY_SECONDS = 600
_ENTRY_ATTRIBUTE = "_celltrack_access"

_facts: dict[str, Callable] = {}
_model_backend = ModelBackend()


def register_user_fact(name: str, loader: Callable) -> None:
    """`loader(user)` answers a picklable fact about `user` kept with their permissions
    (the sites app's scope); invalidated by the same version."""
    _facts[name] = loader


def _cache():
    return caches[CACHE_ALIAS]


def _entry_key(user_id) -> str:
    return f"access:user:{user_id}"


def _bump() -> None:
    _cache().set(ACCESS_VERSION_KEY, uuid.uuid4().hex, timeout=None)


def access_changed(action: str | None = None, **kwargs) -> None:
    """A group, permission, membership or site changed: every cached entry is outdated.

    Bumped now (a request inside this transaction reads the new state) and again on
    commit (an entry computed by another request before the commit is not reused)."""
    if action is not None and not action.startswith("post_"):
        return  # m2m_changed: once, after the rows changed
    _bump()
    transaction.on_commit(_bump)


def _current_version(cache, version):
    if version is not None:
        return version
    fresh = uuid.uuid4().hex
    if cache.add(ACCESS_VERSION_KEY, fresh, timeout=None):
        return fresh
    return cache.get(ACCESS_VERSION_KEY) or fresh


def _compute(user, version) -> dict:
    for name in ("_user_perm_cache", "_group_perm_cache", "_perm_cache"):
        if hasattr(user, name):
            delattr(user, name)
    return {
        "version": version,
        "superuser": user.is_superuser,
        "user_perms": frozenset(_model_backend.get_user_permissions(user)),
        "group_perms": frozenset(_model_backend.get_group_permissions(user)),
        "facts": {name: loader(user) for name, loader in _facts.items()},
    }


def access_entry(user) -> dict:
    """The user's cached permissions and facts, read once per user object."""
    entry = getattr(user, _ENTRY_ATTRIBUTE, None)
    if entry is not None:
        return entry
    cache = _cache()
    key = _entry_key(user.pk)
    found = cache.get_many([ACCESS_VERSION_KEY, key])
    version = _current_version(cache, found.get(ACCESS_VERSION_KEY))
    entry = found.get(key)
    if (
        entry is None
        or entry.get("version") != version
        or entry.get("superuser") != user.is_superuser
        or set(entry.get("facts", ())) != set(_facts)
    ):
        entry = _compute(user, version)
        cache.set(key, entry, timeout=ENTRY_SECONDS)
    setattr(user, _ENTRY_ATTRIBUTE, entry)
    return entry


def user_fact(user, name: str):
    """A registered fact of an authenticated, active user (see `register_user_fact`)."""
    return access_entry(user)["facts"][name]


def forget_access(user) -> None:
    """Drop what this user object holds (after a change made through it in a test)."""
    for name in (_ENTRY_ATTRIBUTE, "_user_perm_cache", "_group_perm_cache", "_perm_cache"):
        if hasattr(user, name):
            delattr(user, name)


def _prime(user) -> bool:
    if not user.is_active or user.is_anonymous:
        return False
    if not hasattr(user, "_perm_cache"):
        entry = access_entry(user)
        user._user_perm_cache = set(entry["user_perms"])
        user._group_perm_cache = set(entry["group_perms"])
        user._perm_cache = user._user_perm_cache | user._group_perm_cache
    return True


class CachedPermissionBackend:
    """Answers permission checks from the cached entry; authenticates nobody.

    It fills the caches `ModelBackend` looks for on the user object, so the
    `ModelBackend` after it answers from the same sets without a query. It has no
    `get_user`: a login is never recorded as this backend's (`force_login` picks the
    first backend that has one)."""

    def authenticate(self, request, **credentials):
        return None

    async def aauthenticate(self, request, **credentials):
        return None

    def get_user_permissions(self, user_obj, obj=None):
        return set(user_obj._user_perm_cache) if obj is None and _prime(user_obj) else set()

    def get_group_permissions(self, user_obj, obj=None):
        return set(user_obj._group_perm_cache) if obj is None and _prime(user_obj) else set()

    def get_all_permissions(self, user_obj, obj=None):
        return set(user_obj._perm_cache) if obj is None and _prime(user_obj) else set()

    def has_perm(self, user_obj, perm, obj=None):
        return user_obj.is_active and perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj, app_label):
        return user_obj.is_active and any(
            perm[: perm.index(".")] == app_label for perm in self.get_all_permissions(user_obj)
        )


def register_invalidation() -> None:
    """Connect the signals of every change that alters what a user may do (auth side)."""
    from django.contrib.auth.models import Group, Permission, User
    from django.db.models.signals import m2m_changed, post_delete, post_save

    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(access_changed, sender=through, dispatch_uid=f"access.{through}")
    for model in (Group, Permission):
        post_save.connect(access_changed, sender=model, dispatch_uid=f"access.save.{model}")
        post_delete.connect(access_changed, sender=model, dispatch_uid=f"access.delete.{model}")
