"""The pharmacies of every hospital that holds or gave the batch's bags get a notice on
their worklist and a mail to the site's notification address."""

import pytest
from django.core import mail
from django.urls import reverse

from audit.context import Origin, audit_context
from tests.factories import HospitalFactory
from vigilance import services
from vigilance.exceptions import VigilanceError
from vigilance.services import concerned_sites

pytestmark = pytest.mark.django_db


def test_each_concerned_hospital_is_mailed_once_at_its_address(
    world, qp_user, password, django_capture_on_commit_callbacks
):
    with audit_context(actor=None, reason="test: the address", origin=Origin.TEST):
        world.hgm.notification_email = "farmacia@hgm.example"
        world.hgm.save()
    with django_capture_on_commit_callbacks(execute=True):
        recall = services.recall_batch(
            world.batch, actor=qp_user, password=password, reason="sterility test positive"
        )
    assert sorted(m.to[0] for m in mail.outbox) == [
        "farmacia@hgm.example",
        "pharmacy@hus.example",
    ]
    message = mail.outbox[0]
    assert recall.code in message.subject and world.batch.code in message.body
    assert all(n.sent_at for n in recall.notices.all())


def test_a_hospital_without_an_address_gets_the_worklist_notice_only(
    world, qp_user, password, django_capture_on_commit_callbacks
):
    with audit_context(actor=None, reason="test: no address", origin=Origin.TEST):
        world.hgm.notification_email = ""
        world.hgm.save()
    with django_capture_on_commit_callbacks(execute=True):
        recall = services.recall_batch(
            world.batch, actor=qp_user, password=password, reason="sterility test positive"
        )
    assert [m.to for m in mail.outbox] == [["pharmacy@hus.example"]]
    unsent = recall.notices.get(hospital=world.hgm)
    assert unsent.sent_at is None and unsent.address == ""


def test_concerned_sites_count_held_bags_and_exposed_patients(world):
    sites = {s.code: s for s in concerned_sites(world.batch)}
    assert set(sites) == {"HUS", "HGM"}
    assert sites["HUS"].exposed_patients == 1 and sites["HGM"].exposed_patients == 1
    # Each received 5 bags: HUS holds dispensed (1) + allocated (1) + 2 in its store, HGM
    # dispensed + prepared + 2 in its store (dose 1 of each was infused).
    assert sites["HUS"].held_bags == 4 and sites["HGM"].held_bags == 4


def test_each_pharmacy_sees_its_own_notice_until_acknowledged(
    world, recall, pharmacist, make_role_user
):
    hgm_pharmacist = make_role_user("pharm-hgm", "pharmacy", world.hgm)
    assert [n.hospital for n in services.recall_notices(pharmacist)] == [world.hus]
    [theirs] = services.recall_notices(hgm_pharmacist)
    assert theirs.hospital == world.hgm
    with pytest.raises(VigilanceError, match="HGM"):
        services.acknowledge_notice(theirs, actor=pharmacist)
    services.acknowledge_notice(theirs, actor=hgm_pharmacist)
    assert not services.recall_notices(hgm_pharmacist).exists()
    assert services.recall_notices(pharmacist).exists()


def test_stopped_doses_are_flagged_on_their_hospitals_worklist(
    world, recall, pharmacist, make_role_user
):
    assert {d.pk for d in services.stopped_doses(pharmacist)} == {
        world.dispensed.pk,
        world.allocated.pk,
    }
    hgm_pharmacist = make_role_user("pharm-hgm", "pharmacy", world.hgm)
    assert {d.pk for d in services.stopped_doses(hgm_pharmacist)} == {
        world.dispensed_hgm.pk,
        world.prepared.pk,
    }


def test_worklist_sections_show_the_readers_own_sites(
    client, world, recall, pharmacist, clinician, make_role_user
):
    hgm_pharmacist = make_role_user("pharm-hgm", "pharmacy", world.hgm)
    client.force_login(pharmacist)
    page = client.get(reverse("dosing:worklist")).content.decode()
    assert "Recall notices" in page and f"{recall.code}, HUS" in page
    assert f"{recall.code}, HGM" not in page
    assert world.dispensed.code in page and world.dispensed_hgm.code not in page
    client.force_login(hgm_pharmacist)
    page = client.get(reverse("dosing:worklist")).content.decode()
    assert f"{recall.code}, HGM" in page and f"{recall.code}, HUS" not in page
    assert world.prepared.code in page and world.allocated.code not in page
    client.force_login(clinician)
    page = client.get(reverse("clinic:worklist")).content.decode()
    assert f"{recall.code}, HUS" in page


def test_no_worklist_notice_of_a_recall_elsewhere(client, world, recall, make_role_user):
    other = HospitalFactory(code="FJD", name="Fundación Jiménez Díaz")
    client.force_login(make_role_user("pharm-fjd", "pharmacy", other))
    page = client.get(reverse("dosing:worklist")).content.decode()
    assert "Recall notices" not in page


def test_no_notices_for_someone_without_the_permission(world, recall, production_user):
    assert not services.recall_notices(production_user).exists()
