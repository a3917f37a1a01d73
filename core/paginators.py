"""A paginator for lists over large tables (the admin's changelists): no full COUNT(*).

Django's changelist counts its whole queryset on every page view; over 200,000 bags or a
million audit events that is a scan of the table each time. `LargeTablePaginator` counts
exactly up to `EXACT_UP_TO` rows (`SELECT COUNT(*) FROM (… LIMIT n + 1)`, which stops
there), and beyond that takes PostgreSQL's estimate — of the table (`pg_class.reltuples`,
kept by ANALYZE and autovacuum) when the list is unfiltered, else the planner's row
estimate of the query — never less than what it counted. Elsewhere (SQLite) it counts.

So a short or well-filtered list has its exact count and every page; a long one has an
approximate number of pages (the last pages may be empty, or a few unreachable by page
number: narrow the list with a filter or a search).
"""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

EXACT_UP_TO = 10_000


def table_estimate(queryset: QuerySet) -> int:
    """PostgreSQL's estimate of the rows of the queryset's table (-1 if never analysed)."""
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else -1


def query_estimate(queryset: QuerySet) -> int:
    """The planner's estimate of the rows the queryset returns."""
    plan = queryset.order_by().explain(format="json")
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


class LargeTablePaginator(Paginator):
    exact_up_to = EXACT_UP_TO

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet) or connections[queryset.db].vendor != "postgresql":
            return super().count
        # Only the keys: an annotation of the list's page (a subquery per row) is not
        # computed for every row counted.
        counted = queryset.order_by().values("pk")[: self.exact_up_to + 1].count()
        if counted <= self.exact_up_to:
            return counted
        query = queryset.query
        unfiltered = not query.where and not query.distinct
        estimate = table_estimate(queryset) if unfiltered else query_estimate(queryset)
        return max(counted, estimate)


class ShortListPaginator(Paginator):
    """Django's paginator for lists that are usually shorter than a page (a worklist's
    patients with something to do): the first page is fetched with one row more than it
    shows, and when that fits, its length is the count — no `COUNT(*)`, which would
    evaluate the list's filter over every row a second time. A longer list, or a later
    page, is counted and paged as Django does."""

    def get_page(self, number):
        try:
            first = int(number or 1) <= 1
        except (TypeError, ValueError):
            first = True
        if not first:
            return super().get_page(number)
        rows = list(self.object_list[: self.per_page + 1])
        if len(rows) <= self.per_page:
            self.__dict__["count"] = len(rows)  # the `count` cached_property, known
        return self._get_page(rows[: self.per_page], 1, self)
