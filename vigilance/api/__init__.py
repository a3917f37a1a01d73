"""Recalls (with their lookback and exposed patients) and reaction reports through the
auditor API: read-only, filterable, cursor-paginated, `?format=csv`."""

from vigilance.api.viewsets import ReactionReportViewSet, RecallViewSet

__all__ = ["ReactionReportViewSet", "RecallViewSet"]
