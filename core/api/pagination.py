"""Cursor pagination: pages that stay put while new records are added.

An offset page shifts when rows are inserted before it; a cursor remembers the position
in the ordering, so an auditor walking a collection sees every row once. Each viewset
orders by a unique, unchanging field (`seq`, `code`, `id`) by default.
"""

from rest_framework.pagination import CursorPagination


class StableCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "id"
    page_size_query_description = "Rows per page (at most 500, default 50)."
    cursor_query_description = (
        "Opaque position returned in `next` or `previous`; do not build it by hand."
    )
