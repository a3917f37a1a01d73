"""The read replica's routing rules (core.db_router), on any database: which requests may
read the replica, who is kept on the primary, and that nothing changes without a replica.
The real primary and standby are in test_replica.py."""

import logging

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.test import RequestFactory

from batches.models import Donor
from core import db_router
from core.middleware import ReplicaRoutingMiddleware


class _Replica:
    def __init__(self, up=True):
        self.up = up

    def ensure_connection(self):
        if not self.up:
            raise OperationalError("could not connect to the replica")


@pytest.fixture
def replica(monkeypatch):
    """A stand-in for the replica's connection (the routing asks only whether it answers)."""
    stand_in = _Replica()
    monkeypatch.setattr(
        db_router,
        "connections",
        {DEFAULT_DB_ALIAS: connections[DEFAULT_DB_ALIAS], db_router.REPLICA: stand_in},
    )
    return stand_in


def _routing(user, path="/api/v1/donors/", method="GET"):
    request = getattr(RequestFactory(), method.lower())(path)
    request.user = user
    kind = db_router.request_kind(method, path, request.GET.get("format", ""), "")
    return db_router.RequestRouting(request, kind)


def test_without_a_replica_nothing_changes(db, client, settings):
    assert "replica" not in settings.DATABASES
    assert not getattr(settings, "DATABASE_ROUTERS", [])
    with pytest.raises(MiddlewareNotUsed):
        ReplicaRoutingMiddleware(lambda request: None)
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.mark.parametrize(
    ("method", "path", "fmt", "kind"),
    [
        ("GET", "/api/v1/donors/", "", "api"),
        ("HEAD", "/api/v1/trace/donors/DON-1/", "", "api"),
        ("GET", "/api/v1/bags/", "csv", "export"),
        ("GET", "/api/v1/reports/cohort/", "", "report"),
        ("GET", "/reports/cohort/", "", "report"),
        ("POST", "/api/v1/auth/login/", "", None),
        ("GET", "/api/v1/auth/login/", "", None),
        ("POST", "/reports/cohort/", "", None),
        ("GET", "/pharmacy/", "", None),
        ("GET", "/admin/batches/batch/", "", None),
    ],
)
def test_which_requests_may_read_the_replica(method, path, fmt, kind):
    assert db_router.request_kind(method, path, fmt, "") == kind


def test_the_auditor_api_reads_the_replica_for_auditors_only(replica, auditor, pharmacist):
    assert _routing(auditor).replica_allowed()
    assert not _routing(pharmacist).replica_allowed()
    # Reports and exports are reads of any role.
    assert _routing(pharmacist, "/reports/cohort/").replica_allowed()
    assert _routing(pharmacist, "/api/v1/bags/?format=csv").replica_allowed()
    assert not _routing(auditor, "/pharmacy/").replica_allowed()


def test_a_user_who_wrote_reads_from_the_primary_afterwards(replica, auditor, pharmacist):
    router = db_router.ReplicaRouter()
    writing = db_router.start_request(_routing(auditor).request, "api")
    try:
        assert writing.replica_allowed()
        assert router.db_for_write(Donor) == DEFAULT_DB_ALIAS
        assert not writing.replica_allowed()  # the rest of this request, too
    finally:
        db_router.end_request(writing)
    assert not _routing(auditor).replica_allowed()
    # Someone else is not concerned.
    assert _routing(pharmacist, "/reports/cohort/").replica_allowed()


def test_a_login_makes_its_user_sticky_before_the_request_knows_the_user(replica, auditor):
    router = db_router.ReplicaRouter()
    anonymous = _routing(auditor, "/api/v1/auth/login/", "POST")
    anonymous.request.user = User()  # not authenticated yet
    db_router.start_request(anonymous.request, None)
    routing = db_router._routing.get()
    try:
        router.db_for_write(User, instance=auditor)  # the login's last_login
    finally:
        db_router.end_request(routing)
    assert not _routing(auditor).replica_allowed()


def test_machinery_writes_make_nobody_sticky(replica, auditor):
    from django.contrib.sessions.models import Session

    routing = db_router.start_request(_routing(auditor).request, "api")
    try:
        db_router.ReplicaRouter().db_for_write(Session)
    finally:
        db_router.end_request(routing)
    assert _routing(auditor).replica_allowed()


def test_a_replica_that_does_not_answer_leaves_reads_on_the_primary(replica, auditor, caplog):
    replica.up = False
    with caplog.at_level(logging.WARNING, logger="celltrack.replica"):
        assert not _routing(auditor).replica_allowed()
    assert "replica_unavailable" in caplog.text


@pytest.mark.django_db
def test_accounts_and_transactions_always_read_the_primary(replica, auditor):
    router = db_router.ReplicaRouter()
    routing = db_router.start_request(_routing(auditor).request, "api")
    try:
        assert routing.replica_allowed()
        assert router.db_for_read(User) == DEFAULT_DB_ALIAS
        assert router.db_for_read(Group) == DEFAULT_DB_ALIAS
        # The test runs inside a transaction: a service's reads stay on the primary.
        assert connections[DEFAULT_DB_ALIAS].in_atomic_block
        assert router.db_for_read(Donor) == DEFAULT_DB_ALIAS
    finally:
        db_router.end_request(routing)
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "batches")
    assert not router.allow_migrate(db_router.REPLICA, "batches")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_auditor_reads_the_replica(replica, auditor):
    router = db_router.ReplicaRouter()
    assert router.db_for_read(Donor) == DEFAULT_DB_ALIAS  # no request: the primary
    routing = db_router.start_request(_routing(auditor).request, "api")
    try:
        assert router.db_for_read(Donor) == db_router.REPLICA
    finally:
        db_router.end_request(routing)
    assert router.db_for_read(Donor) == DEFAULT_DB_ALIAS
