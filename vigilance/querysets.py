"""Read paths over vigilance records: every read goes through `for_user`, which narrows
to the reader's sites (`sites.querysets.SiteScopedQuerySet.within`)."""

from __future__ import annotations

from django.db.models import Q

from sites.querysets import SiteScopedQuerySet
from sites.scope import SiteScope


def _batches_within(queryset, scope: SiteScope):
    """The ids of the batches `scope` sees (made at its facilities, or given or held at
    its hospitals: `batches.querysets.BatchQuerySet.within`)."""
    batch = queryset.model._meta.get_field("batch").related_model
    return batch.objects.within(scope).values("pk")


class RecallQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> RecallQuerySet:
        """The recalls of the batches the reader's sites made, hold or gave, and those
        their hospitals were told of."""
        notice = self.model._meta.get_field("notices").related_model
        told = notice._base_manager.filter(hospital_id__in=scope.hospital_ids)
        return self.filter(
            Q(batch_id__in=_batches_within(self, scope)) | Q(pk__in=told.values("recall_id"))
        )


class RecallNoticeQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> RecallNoticeQuerySet:
        """A hospital's own notices; a facility's, those of the recalls of its batches
        (the QP sees whom the recall reached)."""
        return self.filter(
            Q(hospital_id__in=scope.hospital_ids)
            | Q(recall__batch__facility_id__in=scope.facility_ids)
        )

    def unacknowledged(self):
        return self.filter(acknowledged_at__isnull=True)


class ReactionReportQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> ReactionReportQuerySet:
        """The reports about the reader's hospitals' patients."""
        return self.filter(adverse_event__patient__hospital_id__in=scope.hospital_ids)
