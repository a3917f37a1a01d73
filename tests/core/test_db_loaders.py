"""PostgreSQL time stamps are read by psycopg's loader (C with psycopg-binary) when the
connection's zone is UTC, and give exactly what Django's own loader gives."""

import datetime
from types import SimpleNamespace

import pytest
from django.db import connection

from core.db_loaders import _utc_loader, use_c_timestamp_loader

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="psycopg's loaders: PostgreSQL only"
    ),
]

LITERALS = [
    "2020-03-01 10:00:00.123456+02",
    "2020-10-25 02:30:00+01",  # the night the clocks go back in Madrid
    "1999-12-31 23:59:59.999999-11",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def _read(literals):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT v::timestamptz FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
            [literals],
        )
        return [row[0] for row in cursor.fetchall()]


def test_every_connection_reads_time_stamps_with_the_utc_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, 0)  # timestamptz, text
    assert loader is _utc_loader()
    assert loader.timezone is datetime.UTC  # what Django checks per cursor


def test_values_are_the_ones_djangos_loader_gives():
    from django.db.backends.postgresql.psycopg_any import register_tzloader

    connection.ensure_connection()
    ours = _read(LITERALS)
    register_tzloader(datetime.UTC, connection.connection)
    try:
        djangos = _read(LITERALS)
    finally:
        connection.connection.adapters.register_loader("timestamptz", _utc_loader())
    assert ours == djangos
    assert [v.tzinfo for v in ours] == [datetime.UTC] * len(LITERALS)
    assert [v.utcoffset() for v in ours] == [datetime.timedelta(0)] * len(LITERALS)
    assert ours[0] == datetime.datetime(2020, 3, 1, 8, 0, 0, 123456, tzinfo=datetime.UTC)


def test_the_orm_and_a_server_side_cursor_read_aware_utc_values(django_user_model):
    user = django_user_model.objects.create(username="reader")
    # `.iterator()` reads through a server-side (named) cursor on PostgreSQL.
    joined = list(
        django_user_model.objects.filter(pk=user.pk)
        .values_list("date_joined", flat=True)
        .iterator(chunk_size=2)
    )
    assert joined == [user.date_joined]
    assert joined[0].tzinfo is datetime.UTC


def test_a_connection_in_another_zone_keeps_djangos_loader():
    """A database configured with its own TIME_ZONE: Django's loader sets that zone."""
    registered = []
    raw = SimpleNamespace(
        info=SimpleNamespace(parameter_status=lambda name: "UTC"),
        adapters=SimpleNamespace(register_loader=lambda *args: registered.append(args)),
    )
    other = SimpleNamespace(
        vendor="postgresql",
        timezone=datetime.timezone(datetime.timedelta(hours=1)),
        connection=raw,
    )
    use_c_timestamp_loader(sender=None, connection=other)
    session_elsewhere = SimpleNamespace(
        vendor="postgresql",
        timezone=datetime.UTC,
        connection=SimpleNamespace(
            info=SimpleNamespace(parameter_status=lambda name: "Europe/Madrid"),
            adapters=raw.adapters,
        ),
    )
    use_c_timestamp_loader(sender=None, connection=session_elsewhere)
    assert registered == []
