"""Shared fixtures: one named user per role, and the database backend switch."""

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

from audit.context import Origin, audit_context

PASSWORD = "correct-horse-battery-staple"


def _user(username, group=None, **extra):
    user = User.objects.create_user(username=username, password=PASSWORD, **extra)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def production_user(db):
    return _user("prod1", "production", is_staff=True, first_name="Pat", last_name="Prod")


@pytest.fixture
def qp_user(db):
    return _user("qp1", "qp", is_staff=True, first_name="Quinn", last_name="Person")


@pytest.fixture
def pharmacist(db):
    return _user("pharm1", "pharmacy", first_name="Phil", last_name="Macist")


@pytest.fixture
def clinician(db):
    return _user("clin1", "clinician", first_name="Cleo", last_name="Nician")


@pytest.fixture
def auditor(db):
    return _user("audit1", "auditor", first_name="Ada", last_name="Auditor")


@pytest.fixture
def outsider(db):
    return _user("outsider1")


@pytest.fixture
def system_context():
    """Attribute writes made by test set-up to the system, as a fixture loader would."""
    with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
        yield


requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite has no row locks, so this would pass even for broken code",
)
