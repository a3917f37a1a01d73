"""The base of every auditor collection: read-only, permission-checked, filtered, exportable."""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.viewsets import ReadOnlyModelViewSet

from core.api.export import CSVExportMixin, CSVRenderer
from core.api.filters import StableOrderingFilter
from core.api.pagination import StableCursorPagination
from core.api.permissions import ReadModelPermissions


class AuditorViewSet(CSVExportMixin, ReadOnlyModelViewSet):
    """A read-only collection: list (cursor-paginated, filterable, `?format=csv`) and item.

    Subclasses set `queryset` (with the select_related/prefetch_related that keep a page
    at a constant number of queries), `serializer_class`, `filterset_class`, `ordering`
    (a unique field first) and `ordering_fields`.
    """

    permission_classes = [ReadModelPermissions]
    pagination_class = StableCursorPagination
    filter_backends = [DjangoFilterBackend, StableOrderingFilter]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]

    def get_queryset(self):
        """Only what the reader may see: every collection goes through `for_user`."""
        queryset = super().get_queryset()
        if hasattr(queryset, "for_user"):
            queryset = queryset.for_user(self.request.user)
        return queryset
