"""Pure production rules: donor eligibility, check evaluation, ISBT 128 check character."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batches.isbt import ALPHABET, iso7064_mod37_2
from batches.models import SerologyResult
from batches.rules import MET, MISSING, NOT_MET, donor_eligibility, evaluate_check
from tests.factories import (
    REQUIRED_SEROLOGY,
    DonorFactory,
    ProcurementFactory,
    SerologyResultFactory,
    add_negative_serology,
)

T = SerologyResult.Test
PROCURED = datetime.date(2026, 3, 2)


def criteria(donor):
    return {c.name: c for c in donor_eligibility(donor)}


@pytest.fixture
def eligible_donor(db):
    donor = DonorFactory()
    ProcurementFactory(donor=donor, procured_on=PROCURED)
    add_negative_serology(donor, sampled_on=PROCURED)
    return donor


def test_donor_with_everything_on_file_is_eligible(eligible_donor):
    assert all(c.status == MET for c in donor_eligibility(eligible_donor))


@pytest.mark.parametrize(("age", "status"), [(49, MET), (50, NOT_MET), (63, NOT_MET)])
def test_donor_must_be_younger_than_50(eligible_donor, age, status):
    eligible_donor.age_at_donation = age
    assert criteria(eligible_donor)["Age under 50"].status == status


def test_donor_with_comorbidities_is_not_eligible(eligible_donor):
    eligible_donor.has_comorbidities = True
    assert criteria(eligible_donor)["No comorbidities"].status == NOT_MET


def test_donor_with_concomitant_treatments_is_not_eligible(eligible_donor):
    eligible_donor.has_concomitant_treatments = True
    assert criteria(eligible_donor)["No concomitant treatments"].status == NOT_MET


def test_donor_without_specific_consent_is_not_eligible(eligible_donor):
    eligible_donor.consent_for_clinical_use = False
    assert criteria(eligible_donor)["Consent for clinical use"].status == NOT_MET


def test_consent_without_a_date_is_missing(eligible_donor):
    eligible_donor.consent_signed_on = None
    assert criteria(eligible_donor)["Consent for clinical use"].status == MISSING


@pytest.mark.parametrize("test", REQUIRED_SEROLOGY)
def test_each_required_serology_test_must_be_on_file(db, test):
    donor = DonorFactory()
    ProcurementFactory(donor=donor, procured_on=PROCURED)
    for other in REQUIRED_SEROLOGY:
        if other != test:
            SerologyResultFactory(donor=donor, test=other, sampled_on=PROCURED)
    result = criteria(donor)[f"Serology {T(test).label}"]
    assert result.status == MISSING


@pytest.mark.parametrize("result", [SerologyResult.Result.POSITIVE, "indeterminate"])
def test_reactive_serology_makes_donor_ineligible_even_beside_a_negative(eligible_donor, result):
    SerologyResultFactory(donor=eligible_donor, test=T.HCV, result=result, sampled_on=PROCURED)
    assert criteria(eligible_donor)[f"Serology {T.HCV.label}"].status == NOT_MET


@pytest.mark.parametrize(
    ("days", "status"), [(-31, MISSING), (-30, MET), (0, MET), (7, MET), (8, MISSING)]
)
def test_serology_sample_must_be_30_days_before_to_7_days_after_procurement(db, days, status):
    donor = DonorFactory()
    ProcurementFactory(donor=donor, procured_on=PROCURED)
    add_negative_serology(donor, sampled_on=PROCURED + datetime.timedelta(days=days))
    assert criteria(donor)[f"Serology {T.HIV.label}"].status == status


def test_serology_without_procurement_is_missing(db):
    donor = DonorFactory()
    add_negative_serology(donor)
    assert criteria(donor)[f"Serology {T.HIV.label}"].status == MISSING


def test_htlv_is_optional_but_a_positive_result_excludes(eligible_donor):
    assert criteria(eligible_donor)[f"Serology {T.HTLV.label}"].status == MET
    SerologyResultFactory(
        donor=eligible_donor, test=T.HTLV, result="positive", sampled_on=PROCURED
    )
    assert criteria(eligible_donor)[f"Serology {T.HTLV.label}"].status == NOT_MET


# evaluate_check ---------------------------------------------------------------------

decimals = st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False)


@given(limit=decimals, value=decimals)
def test_minimum_check_passes_exactly_at_or_above_the_limit(limit, value):
    item = SimpleNamespace(kind="min", lower_limit=limit)
    assert evaluate_check(item, value, "") == (value >= limit)


@given(limit=decimals, value=decimals)
def test_maximum_check_passes_exactly_at_or_below_the_limit(limit, value):
    item = SimpleNamespace(kind="max", upper_limit=limit)
    assert evaluate_check(item, value, "") == (value <= limit)


@pytest.mark.parametrize("kind", ["min", "max"])
def test_numeric_check_without_a_value_fails(kind):
    item = SimpleNamespace(kind=kind, lower_limit=Decimal(0), upper_limit=Decimal(0))
    assert evaluate_check(item, None, "") is False


@pytest.mark.parametrize(
    ("text", "passed"),
    [("normal", True), (" Normal ", True), ("abnormal", False), ("", False)],
)
def test_expected_check_compares_text_ignoring_case_and_spaces(text, passed):
    item = SimpleNamespace(kind="expected", expected_result="normal")
    assert evaluate_check(item, None, text) is passed


@given(text=st.text(alphabet=ALPHABET[:36], min_size=1, max_size=20))
def test_iso7064_check_character_validates_its_own_text(text):
    """Pure system: Σ value·2^(position from the right) over text + check ≡ 1 (mod 37)."""
    check = iso7064_mod37_2(text)
    full = text + check
    weighted = sum(
        ALPHABET.index(char) * pow(2, len(full) - 1 - i, 37) for i, char in enumerate(full)
    )
    assert weighted % 37 == 1


def test_iso7064_known_value_computed_by_hand():
    # "A1": A=10, 1=1. Weighted: 10·2² + 1·2 = 42 ≡ 5 (mod 37). The check c (weight 1)
    # must make 5 + c ≡ 1 (mod 37): c = 33, the 34th character of 0-9A-Z*, 'X'.
    assert iso7064_mod37_2("A1") == "X"


@given(text=st.text(alphabet=ALPHABET[:36], min_size=2, max_size=13), data=st.data())
def test_iso7064_detects_any_single_character_substitution(text, data):
    index = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    replacement = data.draw(st.sampled_from([c for c in ALPHABET[:36] if c != text[index]]))
    changed = text[:index] + replacement + text[index + 1 :]
    assert iso7064_mod37_2(changed) != iso7064_mod37_2(text)


# --- which way the imports go, and whether a batch may go on towards a patient --------


def test_rules_never_import_the_models():
    """`batches.models` imports the rules; the rules work on what they are given (a
    function-level import would count too, so the whole module is read)."""
    import ast
    import inspect

    import batches.rules

    tree = ast.parse(inspect.getsource(batches.rules))
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {name for name in imported if name and name.startswith("batches.models")}


def test_batch_problem_names_what_stops_a_batch(qp_user, password):
    from audit.context import audit_context
    from batches.rules import batch_problem
    from batches.services import release_batch
    from tests.factories import make_release_ready_batch

    batch = make_release_ready_batch()
    today = datetime.date.today()
    assert "is quarantine, not released" in batch_problem(batch, today)
    release_batch(batch, actor=qp_user, password=password)
    batch.refresh_from_db()
    assert batch_problem(batch, today) is None
    assert "expired on" in batch_problem(batch, batch.expires_on + datetime.timedelta(days=1))
    with audit_context(actor=qp_user, reason="changed around the service"):
        batch.impd_reference = "PEI-15-104"
        batch.save()
    assert "was changed after the QP signed its release" in batch_problem(batch, today)
