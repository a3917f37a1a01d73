"""The ISBT 128-style data structures, without a PDF: building and reading them back."""

import datetime

import pytest

from batches.isbt import ALPHABET, iso7064_mod37_2
from labels.isbt import (
    BagIdentity,
    LabelError,
    bag_message,
    check_from_flags,
    checksum_flags,
    cyyjjj,
    eye_readable_din,
    from_cyyjjj,
    identity_of,
    parse_bag_message,
    parse_structures,
)
from tests.factories import BagFactory, BatchFactory
from tests.labels.conftest import din_with_check


@pytest.mark.parametrize("check", list(ALPHABET))
def test_type_3_flags_carry_every_check_character_including_star(check):
    din = din_with_check(check, start=0)
    flags = checksum_flags(din)
    assert flags == f"{60 + ALPHABET.index(check)}"
    assert check_from_flags(flags) == check == iso7064_mod37_2(din)


def test_star_is_flag_96_and_00_carries_no_check():
    assert checksum_flags(din_with_check("*")) == "96"
    assert check_from_flags("00") is None
    assert check_from_flags("59") is None


def test_dates_are_century_year_and_day_of_the_year():
    assert cyyjjj(datetime.date(2028, 4, 1)) == "028092"  # 2028 is a leap year
    assert cyyjjj(datetime.date(2018, 12, 31)) == "018365"
    assert cyyjjj(datetime.date(2026, 1, 1)) == "026001"
    assert from_cyyjjj("028092") == datetime.date(2028, 4, 1)
    with pytest.raises(LabelError):
        cyyjjj(datetime.date(1999, 12, 31))


def test_the_message_concatenates_compound_din_product_and_expiry_structures():
    din = din_with_check("*")
    identity = BagIdentity(
        din=din,
        check="*",
        product="S1234V",
        division="Bc",
        expires_at=datetime.datetime(2028, 4, 1, 23, 59),
    )
    message = bag_message(identity)
    assert message == f"=+03000={din}96=<S1234VBc&>0280922359"
    assert parse_structures(message) == {"=": f"{din}96", "=<": "S1234VBc", "&>": "0280922359"}
    back = parse_bag_message(message)
    assert back == identity
    assert back.bag_code == f"{din}*-S1234V00-Bc"


def test_a_message_without_expiry_says_two_structures():
    identity = BagIdentity(din="E000126000001", check="W", product="S0412V", division="A0")
    message = bag_message(identity)
    assert message == "=+02000=E00012600000192=<S0412VA0"
    assert parse_bag_message(message).expires_at is None


def test_an_expiry_date_without_time_reads_as_the_end_of_the_day():
    back = parse_bag_message("=E00012600000192=<S0412VA0=>028092")
    assert back.expires_at == datetime.datetime(2028, 4, 1, 23, 59)


@pytest.mark.parametrize(
    "message, reason",
    [
        ("=E00012600000100=<S0412VA0", "flags"),  # flags 00: no check character
        ("=E00012600000191=<S0412VA0", "flags"),  # the wrong check value
        ("=+03000=E00012600000192=<S0412VA0", "declares 03"),
        ("=E00012600000192=<S0412V", "truncated"),
        ("=E00012600000192%!S0412VA0", "unknown"),
        ("=<S0412VA0", "DIN"),
    ],
)
def test_reading_refuses_what_does_not_name_one_bag(message, reason):
    with pytest.raises(ValueError, match=reason):
        parse_bag_message(message)


def test_eye_readable_din_groups_facility_year_sequence_then_flags_and_check():
    assert eye_readable_din("E000126000001") == ("E0001 26 000001", "92", "W")


def test_a_product_code_whose_division_positions_are_used_is_refused(db):
    bag = BagFactory(product_code="S1234V01", division="A0")
    with pytest.raises(LabelError, match="must end in 00"):
        identity_of(bag)


@pytest.mark.parametrize(
    "product_code, division, reason",
    [("S1234V00", "A", "Division"), ("SX234V00", "A0", "Product")],
)
def test_a_bag_that_breaks_a_structure_is_refused(db, product_code, division, reason):
    batch = BatchFactory()
    bag = BagFactory.build(batch=batch, product_code=product_code, division=division)
    bag.code = f"{batch.code}-{product_code}-{division}"  # as Bag.save() would make it
    with pytest.raises(LabelError, match=reason):
        identity_of(bag)
