"""Read paths over production records (no writes here).

The models set these querysets as their managers (`Batch.objects.released()`,
`Bag.objects.available_for_allocation()`), so every read of a batch or a bag — pages,
the admin's changelists, the API — can also be narrowed with `for_user(user)`
(`core.querysets.ScopedQuerySet`). The models import this module, never the reverse:
a model is reached through `self.model`.
"""

from __future__ import annotations

import datetime

from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from audit.audited import AuditedQuerySet
from audit.models import Signature

# The meanings of a QP's signature on a batch that decide it (`audit.models.Signature`).
DECISION_MEANINGS = (Signature.Meaning.RELEASED, Signature.Meaning.REJECTED)


class BatchQuerySet(AuditedQuerySet):
    def released(self, on_date: datetime.date | None = None) -> BatchQuerySet:
        """Batches released by a QP whose expiry date is known and not yet past on
        `on_date` (today by default)."""
        on_date = on_date or timezone.localdate()
        return self.filter(
            status=self.model.Status.RELEASED,
            expires_on__isnull=False,
            expires_on__gte=on_date,
        )

    def decided(self) -> BatchQuerySet:
        """The batches a QP has decided on: a closed status (released, rejected, recalled,
        expired) or a release/rejection signature, so that a batch put back in quarantine
        on hold after its release still counts as decided."""
        signed = Signature.objects.filter(
            object_type=self.model._meta.label_lower,
            object_id=Cast(OuterRef("pk"), output_field=CharField()),
            meaning__in=DECISION_MEANINGS,
        )
        return self.filter(Q(status__in=self.model.LOCKED_STATUSES) | Q(Exists(signed)))

    def scoped_to(self, user) -> BatchQuerySet:
        """The batches of the user's sites. Every role sees every batch today; the
        network (memberships of sites) narrows this to the facilities the user works for."""
        return self


class BagQuerySet(AuditedQuerySet):
    def available_for_allocation(self, on_date: datetime.date | None = None) -> BagQuerySet:
        """Bags a pharmacy may allocate: status `available`, of a released, unexpired batch.

        A batch without an expiry date is not treated as unexpired: release requires one,
        so such a bag can only come from data entered around the service, and is left
        out. Ordered first-expiry-first-out, then by code.
        """
        on_date = on_date or timezone.localdate()
        batch = self.model._meta.get_field("batch").related_model
        return (
            self.filter(
                status=self.model.Status.AVAILABLE,
                batch__status=batch.Status.RELEASED,
                batch__expires_on__isnull=False,
                batch__expires_on__gte=on_date,
            )
            .select_related("batch", "location")
            .order_by("batch__expires_on", "batch_id", "code")
        )

    def scoped_to(self, user) -> BagQuerySet:
        """The bags of the user's sites (every bag today; see `BatchQuerySet.scoped_to`)."""
        return self


class SpecificationQuerySet(AuditedQuerySet):
    def unused(self) -> SpecificationQuerySet:
        """Versions no QP decision was made against: the only ones that take new items."""
        batches = self.model._meta.get_field("batches").related_model
        return self.exclude(pk__in=batches.objects.decided().values("specification_id"))


def released_batches(*, on_date: datetime.date | None = None) -> QuerySet:
    """`Batch.objects.released(on_date)`, for callers that import read paths by name."""
    from batches.models import Batch

    return Batch.objects.released(on_date)


def bags_available_for_allocation(*, on_date: datetime.date | None = None) -> QuerySet:
    """`Bag.objects.available_for_allocation(on_date)` (what dosing allocates from)."""
    from batches.models import Bag

    return Bag.objects.available_for_allocation(on_date)
