"""Permissions and sites held per user (core.access): no permission query per request,
and never a stale answer after a group, permission or membership changes."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.access import _entry_key, access_entry
from sites.models import Membership
from sites.services import remove_membership
from tests.api.conftest import make_batch, token_client

pytestmark = pytest.mark.django_db

ACCESS_TABLES = ('"auth_permission"', '"auth_group"', '"auth_user_groups"', '"sites_membership"')


def _access_queries(client, path):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return [q["sql"] for q in queries if any(table in q["sql"] for table in ACCESS_TABLES)]


def test_a_known_users_request_reads_no_permission_or_membership(auditor):
    make_batch(bags=3)
    client = token_client(auditor)

    first = _access_queries(client, "/api/v1/bags/")
    second = _access_queries(client, "/api/v1/bags/")
    third = _access_queries(client, "/api/v1/batches/")

    assert len(first) == 3  # user and group permissions, memberships: read once
    assert second == [] and third == []


def test_removing_a_membership_takes_effect_on_the_next_request(auditor):
    make_batch(bags=3)
    client = token_client(auditor)
    assert len(client.get("/api/v1/bags/").json()["results"]) == 3

    remove_membership(Membership.objects.get(user=auditor), actor=None, reason="left the network")

    assert client.get("/api/v1/bags/").json()["results"] == []


def test_removing_a_users_group_takes_effect_on_the_next_request(auditor):
    make_batch(bags=1)
    client = token_client(auditor)
    assert client.get("/api/v1/bags/").status_code == 200

    auditor.groups.remove(Group.objects.get(name="auditor"))

    assert client.get("/api/v1/bags/").status_code == 403


def test_a_groups_lost_permission_takes_effect_on_the_next_request(auditor):
    make_batch(bags=1)
    client = token_client(auditor)
    assert client.get("/api/v1/bags/").status_code == 200

    Group.objects.get(name="auditor").permissions.remove(
        Permission.objects.get(codename="view_bag", content_type__app_label="batches")
    )

    assert client.get("/api/v1/bags/").status_code == 403
    assert client.get("/api/v1/batches/").status_code == 200


def test_an_entry_cached_before_the_change_commits_is_not_served_after(
    auditor, django_capture_on_commit_callbacks
):
    make_batch(bags=2)
    client = token_client(auditor)
    client.get("/api/v1/bags/")
    stale = caches["access"].get(_entry_key(auditor.pk))

    with django_capture_on_commit_callbacks(execute=True):
        remove_membership(Membership.objects.get(user=auditor), actor=None, reason="left")
        # Another request, still seeing the membership, caches what it read under the
        # version current before the commit.
        fresh = access_entry(type(auditor).objects.get(pk=auditor.pk))
        caches["access"].set(_entry_key(auditor.pk), {**stale, "version": fresh["version"]})

    assert client.get("/api/v1/bags/").json()["results"] == []


def test_a_lost_cache_only_costs_a_recomputation(auditor):
    make_batch(bags=2)
    client = token_client(auditor)
    client.get("/api/v1/bags/")

    caches["access"].clear()

    assert len(_access_queries(client, "/api/v1/bags/")) == 3
    assert len(client.get("/api/v1/bags/").json()["results"]) == 2


@pytest.mark.parametrize("bags", [2, 12])
def test_a_known_users_page_is_its_token_and_its_rows(
    auditor, bags, django_assert_max_num_queries
):
    make_batch(bags=bags)
    client = token_client(auditor)
    client.get("/api/v1/bags/")

    # The token with its user (1), the page (1): no permission, membership or other
    # token read.
    with django_assert_max_num_queries(2):
        response = client.get("/api/v1/bags/")

    assert len(response.json()["results"]) == bags


def test_an_expired_token_is_refused_and_the_next_login_clears_the_others(auditor, password):
    import datetime

    from django.utils import timezone
    from knox.models import AuthToken
    from rest_framework.test import APIClient

    expired, key = AuthToken.objects.create(user=auditor, expiry=datetime.timedelta(hours=1))
    other, _ = AuthToken.objects.create(user=auditor, expiry=datetime.timedelta(hours=1))
    AuthToken.objects.filter(pk__in=[expired.pk, other.pk]).update(
        expiry=timezone.now() - datetime.timedelta(minutes=1)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get("/api/v1/bags/").status_code == 401
    assert not AuthToken.objects.filter(pk=expired.pk).exists()
    assert AuthToken.objects.filter(pk=other.pk).exists()

    login = APIClient().post(
        "/api/v1/auth/login/", {"username": auditor.username, "password": password}
    )
    assert login.status_code == 200
    assert not AuthToken.objects.filter(pk=other.pk).exists()
