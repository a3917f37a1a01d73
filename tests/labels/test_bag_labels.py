"""Bag and batch labels: every symbol read back by zxing-cpp gives the record's codes."""

import pytest

from batches.isbt import ALPHABET
from batches.models import Bag
from labels.isbt import parse_bag_message
from tests.factories import BagFactory, BatchFactory, store_at_hospital
from tests.labels.reading import CODE128, DATAMATRIX, barcodes, of_format, page_count, page_texts

pytestmark = pytest.mark.django_db


def get_pdf(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    return response.content


def test_bag_label_symbols_carry_din_with_star_check_product_division_and_expiry(
    client, production_user, star_bag
):
    din = star_bag.batch.din
    assert star_bag.code == f"{din}*-S1234V00-A0"
    client.force_login(production_user)
    content = get_pdf(client, f"/labels/bags/{star_bag.code}.pdf")

    (page,) = barcodes(content)
    # The DIN (Data Structure 001, Type 3 flags: '*' is 36 → 96) and the product code
    # with the bag's division in its division positions (003).
    assert of_format(page, CODE128) == [f"={din}96", "=<S1234VA0"]
    # One DataMatrix: compound message (023), DIN (001), product (003), expiry (005).
    (message,) = of_format(page, DATAMATRIX)
    assert message == f"=+03000={din}96=<S1234VA0&>0280922359"
    scanned = parse_bag_message(message)
    assert scanned.bag_code == star_bag.code
    assert scanned.check == "*" == star_bag.batch.din_check
    assert f"{scanned.expires_at:%Y-%m-%d %H:%M}" == "2028-04-01 23:59"


def test_bag_label_prints_what_the_design_asks_for(client, production_user, star_bag):
    client.force_login(production_user)
    (text,) = page_texts(get_pdf(client, f"/labels/bags/{star_bag.code}.pdf"))
    batch = star_bag.batch
    for expected in [
        batch.facility.name,
        batch.facility.fin,
        f"{batch.din[:5]} {batch.din[5:7]} {batch.din[7:]}",  # the eye-readable DIN
        "96",  # its flags
        star_bag.code,
        batch.code,
        "S1234V A0",
        "AT-MSC",
        "Adipose tissue-derived mesenchymal stromal cells",
        "Allogeneic · Cryopreserved · Volunteer donor",
        "62.50×10",  # ×10⁶: the 6 is drawn as a raised digit
        "20.0 ml",
        "≤ −150 °C",
        "vapour phase of liquid nitrogen",
        "2028-04-01 23:59",
        "PEI-15-103",
        "For clinical trial / compassionate use only",
        "ISBT 128-style: not licensed ICCBBA codes",
    ]:
        assert expected in text, expected


def test_batch_labels_give_one_page_per_bag_each_with_its_own_full_code(client, qp_user):
    batch = BatchFactory()
    bags = [BagFactory(batch=batch, division=d) for d in ("A0", "B0", "C0")]
    client.force_login(qp_user)
    content = get_pdf(client, f"/labels/batches/{batch.code}.pdf")

    assert page_count(content) == 3
    pages = barcodes(content)
    din_symbol = f"={batch.din}{60 + ALPHABET.index(batch.din_check)}"
    for bag, page in zip(bags, pages, strict=True):
        assert of_format(page, CODE128) == [din_symbol, f"=<S1234V{bag.division}"]
        (message,) = of_format(page, DATAMATRIX)
        assert parse_bag_message(message).bag_code == bag.code
    # The DIN is the same on every page: only the full code tells the bags apart.
    assert len({of_format(p, DATAMATRIX)[0] for p in pages}) == 3


def test_a_batch_with_a_star_check_character_is_found_by_its_code(
    client, production_user, star_bag
):
    client.force_login(production_user)
    content = get_pdf(client, f"/labels/batches/{star_bag.batch.code}.pdf")
    (page,) = barcodes(content)
    assert parse_bag_message(of_format(page, DATAMATRIX)[0]).bag_code == star_bag.code


def test_a_bag_without_expiry_says_so_and_its_symbol_has_no_expiry(client, production_user):
    bag = BagFactory(batch=BatchFactory(expires_on=None))
    client.force_login(production_user)
    content = get_pdf(client, f"/labels/bags/{bag.code}.pdf")
    (message,) = of_format(barcodes(content)[0], DATAMATRIX)
    assert message.startswith("=+02000") and "&>" not in message
    assert parse_bag_message(message).bag_code == bag.code
    assert "not set: not for release" in page_texts(content)[0]


def test_a_bag_whose_code_cannot_be_carried_is_refused_not_mislabelled(client, production_user):
    bag = BagFactory(product_code="S1234V01")
    client.force_login(production_user)
    response = client.get(f"/labels/bags/{bag.code}.pdf")
    assert response.status_code == 409
    assert "must end in 00" in response.content.decode()


@pytest.mark.parametrize("kind", ["bags", "batches"])
def test_anonymous_goes_to_login(client, star_bag, kind):
    code = star_bag.code if kind == "bags" else star_bag.batch.code
    response = client.get(f"/labels/{kind}/{code}.pdf")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


@pytest.mark.parametrize("kind", ["bags", "batches"])
def test_a_user_without_the_view_permission_is_refused(client, outsider, star_bag, kind):
    code = star_bag.code if kind == "bags" else star_bag.batch.code
    client.force_login(outsider)
    assert client.get(f"/labels/{kind}/{code}.pdf").status_code == 403


@pytest.mark.parametrize("role", ["production_user", "qp_user", "pharmacist", "auditor"])
def test_the_roles_that_read_bags_get_the_pdf(request, client, star_bag, role):
    if role == "pharmacist":  # a pharmacy sees the bags at its hospital
        store_at_hospital(star_bag)
    client.force_login(request.getfixturevalue(role))
    get_pdf(client, f"/labels/bags/{star_bag.code}.pdf")
    get_pdf(client, f"/labels/batches/{star_bag.batch.code}.pdf")


def test_an_unknown_code_is_404(client, production_user, star_bag):
    client.force_login(production_user)
    assert client.get("/labels/bags/E000126999999X-S1234V00-A0.pdf").status_code == 404
    wrong_check = star_bag.batch.din + "A"
    assert client.get(f"/labels/batches/{wrong_check}.pdf").status_code == 404
    assert client.get(f"/labels/batches/{BatchFactory().code}.pdf").status_code == 404  # no bags


def test_a_bag_outside_what_the_user_may_see_is_404(
    client, production_user, star_bag, monkeypatch
):
    """`Bag.objects.for_user` decides (the network narrows it to the user's facilities)."""
    client.force_login(production_user)
    bag_queryset = type(Bag.objects.all())  # the class for_user narrows through
    monkeypatch.setattr(bag_queryset, "scoped_to", lambda self, user: self.none())
    assert client.get(f"/labels/bags/{star_bag.code}.pdf").status_code == 404
    assert client.get(f"/labels/batches/{star_bag.batch.code}.pdf").status_code == 404
