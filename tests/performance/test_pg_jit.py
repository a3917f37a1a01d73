"""PostgreSQL's JIT is off on the application's connections: with it, every worklist
request paid seconds of plan compilation (docs/performance.md)."""

import pytest
from django.db import connection


@pytest.mark.django_db
def test_jit_is_off_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("JIT is a PostgreSQL setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
