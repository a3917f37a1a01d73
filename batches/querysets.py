"""Read paths over production records (no writes here).

The models set these querysets as their managers (`Batch.objects.released()`,
`Bag.objects.available_for_allocation()`), so every read of a batch or a bag — pages,
the admin's changelists, the API — can also be narrowed with `for_user(user)`
(`core.querysets.ScopedQuerySet`). The models import this module, never the reverse:
a model is reached through `self.model`.
"""

from __future__ import annotations

import datetime
from typing import NamedTuple

from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from audit.models import Signature
from sites.querysets import SiteScopedQuerySet
from sites.scope import SiteScope

# The meanings of a QP's signature on a batch that decide it (`audit.models.Signature`).
DECISION_MEANINGS = (Signature.Meaning.RELEASED, Signature.Meaning.REJECTED)

# More ways a bag belongs to a hospital, registered by the apps above at start-up (dosing:
# the bags of the hospital's patients' doses): each `extension(hospital_ids)` returns a
# queryset of bag ids. `batches` cannot import those apps (see docs/architecture.md).
_HOSPITAL_BAG_EXTENSIONS: list = []


def register_hospital_bags(extension) -> None:
    """`extension(hospital_ids)` → a values queryset of the ids of more bags the hospitals
    see (called from an upper app's `AppConfig.ready`)."""
    if extension not in _HOSPITAL_BAG_EXTENSIONS:
        _HOSPITAL_BAG_EXTENSIONS.append(extension)


def _hospital_bags(hospital_ids) -> Q:
    """Bags a hospital sees: those stored at it now (`Bag.held_at_hospital`), and every
    registered extension."""
    seen = Q(held_at_hospital_id__in=hospital_ids)
    for extension in _HOSPITAL_BAG_EXTENSIONS:
        seen |= Q(pk__in=extension(hospital_ids))
    return seen


def _bags_of_scope(bags, scope: SiteScope):
    """Facilities see the bags of the batches they made, wherever the bags are now;
    hospitals the bags stored at them or given to their patients."""
    q = Q(batch__facility_id__in=scope.facility_ids)
    if scope.hospital_ids:
        q |= _hospital_bags(scope.hospital_ids)
    return bags.filter(q)


class BatchQuerySet(SiteScopedQuerySet):
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

    def within(self, scope: SiteScope) -> BatchQuerySet:
        """The batches made at the user's facilities, and those of which a bag is seen at
        the user's hospitals (`BagQuerySet.within`)."""
        q = Q(facility_id__in=scope.facility_ids)
        if scope.hospital_ids:
            bag = self.model._meta.get_field("bags").related_model
            hospital_bags = bag._base_manager.filter(_hospital_bags(scope.hospital_ids))
            q |= Q(pk__in=hospital_bags.values("batch_id"))
        return self.filter(q)


class BagQuerySet(SiteScopedQuerySet):
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

    def within(self, scope: SiteScope) -> BagQuerySet:
        return _bags_of_scope(self, scope)

    def held_at(self, hospital_id: int) -> BagQuerySet:
        """The bags stored at one of the hospital's positions now (`Bag.held_at_hospital`,
        kept with the position: no join with the hospital's positions)."""
        return self.filter(held_at_hospital_id=hospital_id)

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        self.model.keep_held_at(objs)
        return super().bulk_create(objs, *args, **kwargs)

    def update_audited(self, **changes) -> int:
        if {"location", "location_id", "held_at_hospital", "held_at_hospital_id"} & set(changes):
            raise TypeError(
                "A bag's storage position changes through its custody services (one save "
                "each), which keep where it is held with it."
            )
        return super().update_audited(**changes)


class StorageLocationQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> StorageLocationQuerySet:
        return self.filter(
            Q(facility_id__in=scope.facility_ids) | Q(hospital_id__in=scope.hospital_ids)
        )


class BagEventQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> BagEventQuerySet:
        bag = self.model._meta.get_field("bag").related_model
        return self.filter(bag__in=bag.objects.within(scope).values("pk"))


class ReleaseCheckQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> ReleaseCheckQuerySet:
        batch = self.model._meta.get_field("batch").related_model
        return self.filter(batch__in=batch.objects.within(scope).values("pk"))


class DonorQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> DonorQuerySet:
        """A facility's donors: registered there (`Donor.facility`) or with a batch made
        there. Hospitals see no donors (a trace says it left the link out)."""
        batch = self.model._meta.get_field("batches").related_model
        made_here = batch._base_manager.filter(facility_id__in=scope.facility_ids)
        return self.filter(
            Q(facility_id__in=scope.facility_ids) | Q(pk__in=made_here.values("donor_id"))
        )


class DonorRecordQuerySet(SiteScopedQuerySet):
    """Serology and procurement: those of the donors the user sees."""

    def within(self, scope: SiteScope) -> DonorRecordQuerySet:
        donor = self.model._meta.get_field("donor").related_model
        return self.filter(donor__in=donor.objects.within(scope).values("pk"))


class SpecificationQuerySet(SiteScopedQuerySet):
    """Release specifications are the network's (one product, one specification): every
    site with a membership reads them; `SiteScopedQuerySet.within` keeps them all."""

    def unused(self) -> SpecificationQuerySet:
        """Versions no QP decision was made against: the only ones that take new items."""
        batches = self.model._meta.get_field("batches").related_model
        return self.exclude(pk__in=batches.objects.decided().values("specification_id"))


class JudgedSignature(NamedTuple):
    """What judging a batch's release by its decision signature reads of it
    (`batches.rules.batch_problem`, `audit.signatures.hash_matches`): for a whole stock of
    batches at once (the calculator's), where the signer is never shown."""

    meaning: str
    content_hash: str
    signed_at: datetime.datetime
    printed_name: str


def attach_decision_signatures(batches, *, judged_only: bool = False) -> None:
    """Each batch's latest decision signature (`DECISION_MEANINGS`), read for all of
    `batches` in one query and kept where `Batch.decision_signature()` reads it.
    `judged_only`: as a `JudgedSignature` (plain rows, no model instances), for a whole
    stock of batches."""
    by_id = {str(batch.pk): batch for batch in batches}
    for batch in batches:
        batch._decision_signature = None
    signatures = Signature.objects.filter(
        object_type="batches.batch", object_id__in=list(by_id), meaning__in=DECISION_MEANINGS
    ).order_by("signed_at", "id")
    if judged_only:
        # Ordered by time: the latest decision wins (as `Batch.decision_signature`).
        for object_id, *judged in signatures.values_list("object_id", *JudgedSignature._fields):
            by_id[object_id]._decision_signature = JudgedSignature(*judged)
        return
    for signature in signatures.select_related("signer"):
        # Ordered by time: the latest decision wins (as `Batch.decision_signature`).
        by_id[signature.object_id]._decision_signature = signature


def released_batches(*, on_date: datetime.date | None = None) -> QuerySet:
    """`Batch.objects.released(on_date)`, for callers that import read paths by name."""
    from batches.models import Batch

    return Batch.objects.released(on_date)


def bags_available_for_allocation(*, on_date: datetime.date | None = None) -> QuerySet:
    """`Bag.objects.available_for_allocation(on_date)` (what dosing allocates from)."""
    from batches.models import Bag

    return Bag.objects.available_for_allocation(on_date)


class ShipmentQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> ShipmentQuerySet:
        """A shipment is seen at both its ends: its facility's staff and its hospital's."""
        return self.filter(
            Q(facility_id__in=scope.facility_ids) | Q(hospital_id__in=scope.hospital_ids)
        )

    def awaiting_receipt(self) -> ShipmentQuerySet:
        return self.filter(status=self.model.Status.DISPATCHED)

    def awaiting_decision(self) -> ShipmentQuerySet:
        """Received with a temperature excursion, not yet decided by the QP."""
        return self.filter(
            status=self.model.Status.RECEIVED,
            logger_result=self.model.LoggerResult.EXCURSION,
            decision="",
        )


class ShipmentBagQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> ShipmentBagQuerySet:
        return self.filter(
            Q(shipment__facility_id__in=scope.facility_ids)
            | Q(shipment__hospital_id__in=scope.hospital_ids)
        )


class ShipmentRequestQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> ShipmentRequestQuerySet:
        return self.filter(
            Q(facility_id__in=scope.facility_ids) | Q(hospital_id__in=scope.hospital_ids)
        )

    def open(self) -> ShipmentRequestQuerySet:
        return self.filter(status=self.model.Status.REQUESTED)


def open_shipment_requests(facility) -> QuerySet:
    """The requests a facility's production has still to answer (shipped or declined),
    oldest first, with the requesting hospital: the production worklist's section."""
    from batches.models import ShipmentRequest

    return (
        ShipmentRequest.objects.open()
        .filter(facility=facility)
        .select_related("hospital", "requested_by")
        .order_by("requested_at", "id")
    )
