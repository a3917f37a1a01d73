"""Release specification versions and their items.

A version a QP decision was made against is frozen: no item is added to it (refused
here), changed, moved or deleted (refused by `SpecificationItem.save`/`delete` too); to
change a limit, make a new version. Changing a limit of an unused version recomputes the stored
pass/fail of every result judged against it, in the same transaction.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from audit.context import audit_context
from batches.models import Batch, ReleaseSpecification, SpecificationItem
from batches.rules import evaluate_check
from batches.services.base import (
    correct_record,
    delete_audited,
    lock,
    refuse_unknown,
    save_validated,
)
from batches.services.signed_record import keep_record_hashes

ITEM_FIELDS = ("specification", *SpecificationItem.RECORD_FIELDS)


@transaction.atomic
def create_specification(
    *, actor: AbstractBaseUser | None, reason: str = "", **fields
) -> ReleaseSpecification:
    """A new version of a release specification (code and version unique together)."""
    refuse_unknown(fields, ReleaseSpecification.RECORD_FIELDS, "These fields cannot be recorded")
    return save_validated(ReleaseSpecification(**fields), actor=actor, reason=reason)


@transaction.atomic
def correct_specification(
    spec: ReleaseSpecification, *, actor: AbstractBaseUser | None, reason: str = "", **changes
) -> ReleaseSpecification:
    """Correct a version's code, dates, notes or whether new batches take it; a version a
    QP decision was made against changes only with a written reason (the trail's rule).
    Its name (code and version) is part of each batch's signed record: the decided
    batches judged against it keep their record's new hash (`keep_record_hash`)."""
    spec = correct_record(
        spec, changes, allowed=ReleaseSpecification.RECORD_FIELDS, actor=actor, reason=reason
    )
    if {"code", "version"} & set(changes):
        decided = Batch.objects.filter(specification=spec).decided().values_list("pk", flat=True)
        locked = Batch.objects.select_for_update().filter(pk__in=list(decided)).order_by("pk")
        keep_record_hashes(locked, actor=actor, reason=reason)
    return spec


@transaction.atomic
def delete_specification(
    spec: ReleaseSpecification, *, actor: AbstractBaseUser | None, reason: str
) -> None:
    """Delete a version made by mistake: refused once in use and while it has items."""
    delete_audited(spec, actor=actor, reason=reason)


@transaction.atomic
def add_specification_item(
    spec: ReleaseSpecification, *, actor: AbstractBaseUser | None, reason: str = "", **fields
) -> SpecificationItem:
    """Add an item (`SpecificationItem.RECORD_FIELDS`) to a version no QP decision was
    made against; a version in use is refused (`SpecificationInUseError`)."""
    refuse_unknown(fields, SpecificationItem.RECORD_FIELDS, "These fields cannot be recorded")
    spec = lock(spec)
    SpecificationItem.refuse_if_in_use(spec.pk, "no item can be added to it")
    item = SpecificationItem(specification=spec, **fields)
    return save_validated(item, actor=actor, reason=reason)


@transaction.atomic
def correct_specification_item(
    item: SpecificationItem, *, actor: AbstractBaseUser | None, reason: str = "", **changes
) -> SpecificationItem:
    """Change an item of an unused version (`ITEM_FIELDS`, moving it to another unused
    version included); an item of a version in use is refused.

    When its limit changes (`SpecificationItem.LIMIT_FIELDS`), each stored result whose
    pass/fail the change turns is saved again (audit action `recompute`, reason naming
    the old and the new criterion) in the same transaction, so the pass/fail shown always
    matches the limit.
    """
    refuse_unknown(changes, ITEM_FIELDS, "These fields cannot be changed")
    item = (
        SpecificationItem.objects.select_for_update()
        .select_related("specification")
        .get(pk=item.pk)
    )
    before = item.criterion
    limits = [getattr(item, name) for name in SpecificationItem.LIMIT_FIELDS]
    for name, value in changes.items():
        setattr(item, name, value)
    save_validated(item, actor=actor, reason=reason)
    if limits != [getattr(item, name) for name in SpecificationItem.LIMIT_FIELDS]:
        _recompute_results(item, actor=actor, before=before, why=reason)
    return item


def _recompute_results(item: SpecificationItem, *, actor, before: str, why: str) -> None:
    note = (
        f"{item.specification} {item.parameter}: criterion changed from {before} to "
        f"{item.criterion}; pass/fail recomputed"
    )
    if why.strip():
        note = f"{note} ({why.strip()})"
    with audit_context(actor=actor, reason=note):
        for check in item.results.select_related("batch").select_for_update(of=("self",)):
            check.item = item
            if check.passed != evaluate_check(item, check.result_value, check.result_text):
                check.save(audit_action="recompute")


@transaction.atomic
def delete_specification_item(
    item: SpecificationItem, *, actor: AbstractBaseUser | None, reason: str
) -> None:
    """Delete an item of an unused version (refused for a version in use, and while
    results were recorded against it)."""
    delete_audited(item, actor=actor, reason=reason)
