"""A correction that makes a released batch fail a release rule puts it on hold.

DESIGN: "An ineligible donor's tissue can never reach a released batch"; issue 2: a
correction "invalidates nothing without saying so". Whatever changes the data behind a
release (a check re-recorded, the batch record corrected, the donor's serology, the donor,
the procurement), every released batch it touches is re-checked in the same transaction;
if it now fails, it goes back to quarantine pending QP review, its available bags go back
to quarantine, and the trail and the admin say why.
"""

import datetime
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from audit.models import AuditEvent, Signature
from audit.signatures import signature_matches
from batches.exceptions import BatchError
from batches.models import Bag, BagEvent, Batch, SerologyResult, SpecificationItem
from batches.querysets import bags_available_for_allocation
from batches.services import (
    correct_batch,
    move_bag,
    record_check,
    record_procurement,
    record_serology,
    reject_batch,
    release_batch,
    update_donor,
)
from tests.factories import make_release_ready_batch

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 4, 2)


@pytest.fixture
def released(qp_user, password):
    """A released batch with two available bags."""
    batch = make_release_ready_batch(bags=2, expires_on=datetime.date(2099, 1, 1))
    release_batch(batch, actor=qp_user, password=password)
    assert bags_available_for_allocation().filter(batch=batch).count() == 2
    return batch


def assert_on_hold(batch, *, because):
    """The batch is back in quarantine, none of its bags is allocatable, the trail says why."""
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE
    assert not bags_available_for_allocation().filter(batch=batch).exists()
    assert set(batch.bags.values_list("status", flat=True)) == {Bag.Status.QUARANTINE}
    hold = AuditEvent.objects.filter(
        object_type="batches.batch", object_id=str(batch.pk), action="hold"
    ).get()
    assert hold.changes["status"] == ["released", "quarantine"]
    assert because in hold.reason
    custody = BagEvent.objects.filter(bag__batch=batch, to_status=Bag.Status.QUARANTINE)
    assert custody.filter(from_status=Bag.Status.AVAILABLE).count() == 2
    return hold


def test_failing_check_re_recorded_on_a_released_batch_puts_it_on_hold(released, production_user):
    sterility = SpecificationItem.objects.get(
        specification=released.specification, parameter="Sterility"
    )
    check = record_check(
        released,
        sterility,
        actor=production_user,
        tested_on=TODAY,
        text="positive",
        reason="late read of the sterility culture",
    )
    assert check.passed is False
    hold = assert_on_hold(released, because="Sterility (= negative): result positive failed")
    assert "late read of the sterility culture" in hold.reason
    assert hold.actor == production_user
    assert [h.batch.pk for h in check.holds] == [released.pk]


def test_correcting_passages_to_3_puts_a_released_batch_on_hold(released, production_user):
    corrected = correct_batch(
        released, actor=production_user, reason="passage count mis-transcribed", passages=3
    )
    assert_on_hold(released, because="Passages 3: must be fewer than 2")
    assert corrected.status == Batch.Status.QUARANTINE
    assert corrected.holds and "Passages 3" in corrected.holds[0].message


def test_reactive_serology_for_the_donor_puts_its_released_batches_on_hold(
    released, production_user
):
    result = record_serology(
        released.donor,
        actor=production_user,
        test=SerologyResult.Test.HIV,
        result=SerologyResult.Result.POSITIVE,
        sampled_on=released.procurement.procured_on,
        reason="look-back: donor seroconverted",
    )
    assert_on_hold(released, because="Serology HIV-1/2 (anti-HIV-1/2) not met")
    assert [h.batch.pk for h in result.holds] == [released.pk]


def test_new_serology_result_for_a_donor_with_a_released_batch_needs_a_reason(
    released, production_user
):
    with pytest.raises(BatchError, match="reason"):
        record_serology(
            released.donor,
            actor=production_user,
            test=SerologyResult.Test.HTLV,
            result=SerologyResult.Result.NEGATIVE,
            sampled_on=released.procurement.procured_on,
        )


def test_serology_of_a_donor_with_a_released_batch_is_corrected_never_deleted(
    released, production_user
):
    from audit.context import audit_context

    result = released.donor.serology.first()
    with (
        audit_context(actor=production_user, reason="duplicate"),
        pytest.raises(BatchError, match="never deleted"),
    ):
        result.delete()
    assert SerologyResult.objects.filter(pk=result.pk).exists()


def test_donor_made_ineligible_puts_its_released_batches_on_hold(released, production_user):
    update_donor(
        released.donor,
        actor=production_user,
        reason="age mis-keyed at registration",
        age_at_donation=52,
    )
    assert_on_hold(released, because="Age under 50 not met")


def test_procurement_moved_outside_the_serology_window_puts_the_batch_on_hold(
    released, production_user
):
    procurement = released.procurement
    record_procurement(
        released.donor,
        actor=production_user,
        reason="procurement date was the scheduling date, not the surgery date",
        correcting=procurement,
        procured_on=procurement.procured_on + datetime.timedelta(days=60),
        site=procurement.site,
        lipoaspirate_volume_ml=procurement.lipoaspirate_volume_ml,
        fat_weight_g=procurement.fat_weight_g,
        performed_by=procurement.performed_by,
    )
    assert_on_hold(released, because="Donor")


def test_correction_that_still_passes_goes_back_to_the_qp_to_sign_again(
    released, production_user, qp_user, password
):
    corrected = correct_batch(
        released,
        actor=production_user,
        reason="doublings recomputed",
        population_doublings=Decimal("13.0"),
    )
    released.refresh_from_db()
    assert released.status == Batch.Status.QUARANTINE
    assert "sign again" in " ".join(corrected.holds[0].failures)
    assert not bags_available_for_allocation().filter(batch=released).exists()
    assert AuditEvent.objects.filter(action="hold").count() == 1

    release_batch(released, actor=qp_user, password=password)
    released.refresh_from_db()
    assert released.status == Batch.Status.RELEASED
    assert bags_available_for_allocation().filter(batch=released).count() == 2


def test_re_release_after_a_hold_does_not_need_bags_in_quarantine(
    released, production_user, qp_user, password
):
    for bag in released.bags.all():
        move_bag(bag, Bag.Status.RESERVED, actor=production_user)
    correct_batch(released, actor=production_user, reason="typo", passages=0)
    released.refresh_from_db()
    assert released.status == Batch.Status.QUARANTINE

    release_batch(released, actor=qp_user, password=password)
    released.refresh_from_db()
    assert released.status == Batch.Status.RELEASED


def test_reserved_bags_stay_reserved_but_the_batch_is_no_longer_released(
    released, production_user
):
    bag = released.bags.order_by("code").first()
    move_bag(bag, Bag.Status.RESERVED, actor=production_user)
    corrected = correct_batch(released, actor=production_user, reason="re-count", passages=3)
    released.refresh_from_db()
    assert released.status == Batch.Status.QUARANTINE
    bag.refresh_from_db()
    assert bag.status == Bag.Status.RESERVED
    assert "1 bag" in corrected.holds[0].message and "reserved" in corrected.holds[0].message


def test_correcting_a_held_batch_still_needs_a_reason(released, production_user):
    correct_batch(released, actor=production_user, reason="re-count", passages=3)
    with pytest.raises(BatchError, match="reason"):
        correct_batch(released, actor=production_user, reason="", passages=1)


def test_qp_releases_a_held_batch_again_with_a_new_signature_once_resolved(
    released, production_user, qp_user, password
):
    correct_batch(released, actor=production_user, reason="re-count", passages=3)
    correct_batch(released, actor=production_user, reason="batch record re-checked: 1", passages=1)
    released.refresh_from_db()
    assert released.status == Batch.Status.QUARANTINE  # a hold is lifted only by the QP

    again = release_batch(released, actor=qp_user, password=password, comment="re-reviewed")
    assert again.status == Batch.Status.RELEASED
    signatures = list(again.signatures().filter(meaning="released"))
    assert len(signatures) == 2
    assert again.decision_signature() == signatures[-1]
    assert signature_matches(signatures[-1], again.signature_content())
    assert bags_available_for_allocation().filter(batch=again).count() == 2


def test_qp_rejects_a_held_batch(released, production_user, qp_user, password):
    correct_batch(released, actor=production_user, reason="re-count", passages=3)
    rejected = reject_batch(
        released, actor=qp_user, password=password, reason="passages 3: out of specification"
    )
    assert rejected.status == Batch.Status.REJECTED
    assert Signature.objects.filter(meaning="rejected").count() == 1
    assert set(rejected.bags.values_list("status", flat=True)) == {Bag.Status.DISCARDED}


# The admin calls the same services and says so plainly -------------------------------


def _login(client, user, password):
    assert client.login(username=user.username, password=password)


def _management(prefix, total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def _donor_form(donor, *, new_serology=None, change_reason=""):
    serology = list(donor.serology.all())
    procurements = list(donor.procurements.all())
    extra = [new_serology] if new_serology else []
    data = {
        "code": donor.code,
        "age_at_donation": str(donor.age_at_donation),
        "sex": donor.sex,
        "consent_for_clinical_use": "on",
        "consent_signed_on": str(donor.consent_signed_on),
        "change_reason": change_reason,
        **_management("serology", total=len(serology) + len(extra), initial=len(serology)),
        **_management("procurements", total=len(procurements), initial=len(procurements)),
    }
    for i, result in enumerate([*serology, *extra]):
        if hasattr(result, "pk"):
            data[f"serology-{i}-id"] = str(result.pk)
            result = {
                "test": result.test,
                "result": result.result,
                "sampled_on": result.sampled_on,
            }
        data[f"serology-{i}-donor"] = str(donor.pk)
        data[f"serology-{i}-test"] = result["test"]
        data[f"serology-{i}-result"] = result["result"]
        data[f"serology-{i}-sampled_on"] = str(result["sampled_on"])
    for i, p in enumerate(procurements):
        data.update(
            {
                f"procurements-{i}-id": str(p.pk),
                f"procurements-{i}-donor": str(donor.pk),
                f"procurements-{i}-procured_on": str(p.procured_on),
                f"procurements-{i}-site": p.site,
                f"procurements-{i}-lipoaspirate_volume_ml": str(p.lipoaspirate_volume_ml),
                f"procurements-{i}-fat_weight_g": str(p.fat_weight_g),
                f"procurements-{i}-performed_by": p.performed_by,
            }
        )
    return data


def test_reactive_serology_added_in_the_donor_admin_puts_the_batch_on_hold_and_says_so(
    client, production_user, password, released
):
    _login(client, production_user, password)
    url = reverse("admin:batches_donor_change", args=[released.donor.pk])
    data = _donor_form(
        released.donor,
        new_serology={
            "test": "HIV",
            "result": "positive",
            "sampled_on": released.procurement.procured_on,
        },
        change_reason="look-back: donor seroconverted",
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert f"Batch {released.code}" in shown
    assert "on hold" in shown and "quarantine" in shown
    assert "HIV" in shown
    assert_on_hold(released, because="HIV")
    event = AuditEvent.objects.filter(object_type="batches.serologyresult").last()
    assert (event.action, event.actor, event.origin) == ("create", production_user, "admin")
    assert event.reason == "look-back: donor seroconverted"


def test_serology_result_admin_records_through_the_service_and_holds_the_batch(
    client, production_user, password, released
):
    _login(client, production_user, password)
    response = client.post(
        reverse("admin:batches_serologyresult_add"),
        {
            "donor": str(released.donor.pk),
            "test": "HCV",
            "result": "indeterminate",
            "sampled_on": str(released.procurement.procured_on),
            "change_reason": "look-back testing",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "on hold" in shown
    assert_on_hold(released, because="HCV")


def test_check_corrected_in_the_batch_admin_puts_it_on_hold_and_says_so(
    client, production_user, password, released
):
    from batches.admin.checks import stored_raw

    _login(client, production_user, password)
    # The checks are corrected on the batch's grid (with a reason, the batch decided).
    url = reverse("admin:batches_batch_checks", args=[released.pk])
    data = {"change_reason": "late sterility read"}
    for check in released.checks.select_related("item"):
        raw = "positive" if check.item.parameter == "Sterility" else stored_raw(check)
        data[f"result_{check.item_id}"] = raw
        data[f"tested_on_{check.item_id}"] = str(check.tested_on)
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "on hold" in shown and "Sterility" in shown
    assert_on_hold(released, because="Sterility")
