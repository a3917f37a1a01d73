"""Input shapes of the production admin: the QP's signing forms and the bag-creation
form (the change reason is `audit.admin.ReasonForm`). Forms check input; the services
decide."""

from __future__ import annotations

from django import forms

from audit.signing_forms import SignatureFormMixin
from batches.models import MAX_BAG_CELLS, MIN_BAG_CELLS
from batches.services import BOX_POSITIONS, DEFAULT_PRODUCT_CODE
from core.formatting import MILLION, millions
from core.forms import UnitNumberInput


class SignForm(SignatureFormMixin, forms.Form):
    """An electronic signature: the signer re-enters the password (and, for the first
    signature of a session, the authenticator code: `audit.signing_forms`).

    Every field of a signing form is a keyword argument of its decision's service (see
    `batches.admin.signing.DECISIONS`): the cleaned data is passed on as it is.
    """

    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Re-enter your password: it is your electronic signature.",
    )


class ReleaseForm(SignForm):
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))


class RejectForm(SignForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why the batch is rejected (e.g. which check failed).",
    )


class CreateBagsForm(forms.Form):
    """The bags of a batch. Cells are typed in millions ("60" = 60 ×10⁶): an eight-digit
    count invites a slipped digit (6000000 for 60000000); `clean` turns it into cells."""

    count = forms.IntegerField(
        min_value=1, max_value=BOX_POSITIONS, initial=12, label="Number of bags"
    )
    nominal_cells_million = forms.DecimalField(
        label="Cells per bag (×10⁶)",
        decimal_places=2,
        initial=60,
        widget=UnitNumberInput("×10⁶", attrs={"step": "0.01"}),
        help_text=(
            f"In millions of cells: 60 means 60 ×10⁶ = 60,000,000 cells per bag. A bag holds "
            f"{millions(MIN_BAG_CELLS)}–{millions(MAX_BAG_CELLS)} ×10⁶ cells."
        ),
    )
    volume_ml = forms.DecimalField(
        min_value=0.1, max_digits=6, decimal_places=1, initial=20, label="Volume per bag (ml)"
    )
    product_code = forms.RegexField(
        regex=r"^[Ss]\d{4}[Vv]\d{2}$",
        initial=DEFAULT_PRODUCT_CODE,
        help_text="ISBT 128 product code: S + 4 digits + V + 2 digits.",
    )
    tank = forms.CharField(max_length=20, initial="LN2-1")
    rack = forms.CharField(max_length=20)
    box = forms.CharField(max_length=20, help_text="Bags take its first free positions.")

    def clean_nominal_cells_million(self):
        value = self.cleaned_data["nominal_cells_million"]
        low, high = millions(MIN_BAG_CELLS), millions(MAX_BAG_CELLS)
        if value >= 10_000:  # 10¹⁰ cells in one bag: surely a count of cells
            raise forms.ValidationError(
                f"Enter millions of cells, not cells: {millions(int(value))} for "
                f"{int(value):,} cells. A bag holds {low}–{high} ×10⁶ cells."
            )
        cells = value * MILLION  # a whole number: at most 2 decimal places
        if not MIN_BAG_CELLS <= cells <= MAX_BAG_CELLS:
            raise forms.ValidationError(
                f"A bag holds {low}–{high} ×10⁶ cells: {millions(int(cells))} ×10⁶ is "
                f"{'too few' if cells < MIN_BAG_CELLS else 'too many'}."
            )
        return value

    def clean(self):
        cleaned = super().clean()
        value = cleaned.pop("nominal_cells_million", None)
        if value is not None:
            cleaned["nominal_cells"] = int(value * MILLION)
        return cleaned
