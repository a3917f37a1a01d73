"""Input shapes of vigilance: the QP's recall signature, the notification parts A and B."""

from __future__ import annotations

from django import forms

from audit.signing_forms import SignatureFormMixin
from batches.forms import SignForm
from vigilance.models import ReactionReport


class RecallForm(SignForm):
    """The QP's recall: a reason and the re-entered password (`batches.admin.signing`)."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why the batch is recalled (e.g. a sterility result found positive).",
    )


class _Signed(SignatureFormMixin, forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Re-enter your password: it is your electronic signature.",
    )


class PartAForm(_Signed):
    reaction_type = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Type of reaction, as it is notified (pre-filled from the event).",
    )


class PartBForm(_Signed):
    confirmed = forms.TypedChoiceField(
        choices=[("yes", "Yes, confirmed"), ("no", "No, not confirmed")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        label="Serious adverse reaction confirmed",
    )
    clinical_outcome = forms.ChoiceField(choices=ReactionReport.ClinicalOutcome.choices)
    corrective_measures = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
