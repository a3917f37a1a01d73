"""PostgreSQL timestamps read by psycopg's C loader instead of Django's Python one.

Django registers its own `timestamptz` loader on every psycopg 3 connection: a Python
subclass of psycopg's *Python* `TimestamptzLoader` that parses the text and then sets
the connection's zone (`.replace(tzinfo=...)`). A cProfile of the CSV export of every bag
put a quarter of its time there. When Django's zone for the connection is UTC (USE_TZ
with no `TIME_ZONE` in the database settings, as here) and the session's `TimeZone` is
"UTC" (Django sets it when it connects), psycopg's own loader answers the same value —
an aware datetime in `datetime.timezone.utc` — and psycopg-binary's is in C. In any
other set-up Django's loader stays.
"""

from __future__ import annotations

import datetime

_loader_class = None


def _utc_loader():
    """A loader of `timestamptz` whose `load` is psycopg's registered one (the C loader with
    psycopg-binary, which may not be subclassed), with the `timezone` attribute that Django
    reads off the connection's loader on each new cursor (`DatabaseWrapper.create_cursor`)."""
    global _loader_class
    if _loader_class is None:
        import psycopg
        from psycopg.adapt import Loader
        from psycopg.pq import Format

        base = psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, Format.TEXT)

        class UTCTimestamptzLoader(Loader):
            timezone = datetime.UTC

            def __init__(self, oid, context=None):
                super().__init__(oid, context)
                # The bound method of psycopg's loader, called straight from the row
                # transformer: no Python frame per value.
                self.load = base(oid, context).load

            def load(self, data):  # replaced per instance in __init__
                raise NotImplementedError

        _loader_class = UTCTimestamptzLoader
    return _loader_class


def use_c_timestamp_loader(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: on a PostgreSQL connection whose zone is UTC, read
    `timestamptz` with psycopg's loader (module docstring)."""
    if connection.vendor != "postgresql" or connection.timezone is not datetime.UTC:
        return
    raw = connection.connection
    if raw.info.parameter_status("TimeZone") != "UTC":
        return
    raw.adapters.register_loader("timestamptz", _utc_loader())
