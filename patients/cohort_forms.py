"""Input shape of the clinical-course page; the rules live in `patients.cohort_rules`."""

from __future__ import annotations

from django import forms

from patients.forms import DateInput, DateTimeInput
from patients.models import LymphocyteSubsets, SupportPeriod
from patients.models.cohort import SUBSET_MAX_PER_UL, WONG_MAX


class StayForm(forms.Form):
    admitted_on = forms.DateField(label="Hospital admission", widget=DateInput())
    follow_up_ended_on = forms.DateField(
        label="End of follow-up", required=False, widget=DateInput()
    )
    reason = forms.CharField(
        label="Reason (when correcting a recorded date)", max_length=200, required=False
    )


class SupportPeriodForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", "— choose —"), *SupportPeriod.Kind.choices])
    started_at = forms.DateTimeField(label="Start", widget=DateTimeInput())
    ended_at = forms.DateTimeField(label="End", required=False, widget=DateTimeInput())


class EndPeriodForm(forms.Form):
    period = forms.IntegerField(widget=forms.HiddenInput())
    ended_at = forms.DateTimeField(label="End", widget=DateTimeInput())


class XrayForm(forms.Form):
    taken_on = forms.DateField(label="Chest X-ray date", widget=DateInput())
    wong_score = forms.IntegerField(label="Wong score (0–8)", min_value=0, max_value=WONG_MAX)


class SubsetsForm(forms.Form):
    timepoint = forms.ChoiceField(
        choices=[("", "— choose —"), *LymphocyteSubsets.Timepoint.choices]
    )
    sampled_on = forms.DateField(label="Sampled on", widget=DateInput())
    b_cells_per_ul = forms.IntegerField(
        label="B cells (/µl)", min_value=0, max_value=SUBSET_MAX_PER_UL
    )
    cd4_per_ul = forms.IntegerField(label="CD4+ T (/µl)", min_value=0, max_value=SUBSET_MAX_PER_UL)
    cd8_per_ul = forms.IntegerField(label="CD8+ T (/µl)", min_value=0, max_value=SUBSET_MAX_PER_UL)
    nk_per_ul = forms.IntegerField(
        label="NK cells (/µl)", min_value=0, max_value=SUBSET_MAX_PER_UL
    )


class InfectionForm(forms.Form):
    organism = forms.CharField(max_length=120)
    site = forms.CharField(max_length=80, required=False)
    diagnosed_on = forms.DateField(label="Diagnosed on", widget=DateInput())
