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


def _count_and_table_estimate(capped: QuerySet) -> tuple[int, int]:
    """`capped.count()` and PostgreSQL's estimate of the rows of its table
    (`pg_class.reltuples`; -1 if never analysed), in one statement."""
    sql, params = capped.query.sql_with_params()
    with connections[capped.db].cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM ({sql}) AS capped), "  # noqa: S608 (Django's SQL, its params bound)
            "(SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s))",
            [*params, capped.model._meta.db_table],
        )
        counted, estimate = cursor.fetchone()
    return int(counted), (int(estimate) if estimate is not None else -1)


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
        capped = queryset.order_by().values("pk")[: self.exact_up_to + 1]
        query = queryset.query
        if not query.where and not query.distinct:
            # The count and the table's estimate in one statement: one query whatever
            # the table's size (the estimate is used only past `exact_up_to`).
            counted, estimate = _count_and_table_estimate(capped)
        else:
            counted, estimate = capped.count(), None
        if counted <= self.exact_up_to:
            return counted
        if estimate is None:
            estimate = query_estimate(queryset)
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
