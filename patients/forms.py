"""Input shape of the patient pages; the rules live in `patients.services`."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from core.widgets import IsoDateInput, IsoDateTimeInput
from patients.models import ClinicalAssessment, ClinicalOutcome, Observation, Patient
from sites.models import Hospital

NULL_BOOLEAN_CHOICES = [("unknown", "Not recorded"), ("true", "Yes"), ("false", "No")]


# Text inputs, ISO and 24-hour (a browser's own picker imposes its locale): `core.widgets`.
DateInput = IsoDateInput
DateTimeInput = IsoDateTimeInput


class HospitalChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


class PatientFieldsForm(forms.Form):
    """The patient record fields shared by registration and correction
    (`Patient.RECORD_FIELDS`)."""

    hospital = HospitalChoiceField(
        queryset=Hospital.objects.all(), to_field_name="code", empty_label="— choose —"
    )
    age_years = forms.IntegerField(
        label="Age (years)",
        required=False,
        min_value=0,
        max_value=120,
        help_text="Or give the date of birth.",
    )
    birth_date = forms.DateField(label="Date of birth", required=False, widget=DateInput())
    sex = forms.ChoiceField(choices=[("", "— choose —"), *Patient.Sex.choices])
    consent_by_relatives = forms.BooleanField(
        label="Informed consent given by the relatives", required=False
    )
    consent_date = forms.DateField(label="Consent date", required=False, widget=DateInput())
    compassionate_use_authorisation = forms.CharField(
        label="AEMPS compassionate-use authorisation reference",
        max_length=60,
        required=False,
    )

    def __init__(self, *args, user=None, **kwargs):
        """`user`: the hospitals offered are the user's own (a hospital of another site
        posted by hand is "not one of the available choices")."""
        super().__init__(*args, **kwargs)
        if user is not None:
            hospitals = Hospital.objects.for_user(user)
            self.fields["hospital"].queryset = hospitals
            only = list(hospitals[:2])
            if len(only) == 1 and not self.is_bound:
                self.initial.setdefault("hospital", only[0].code)

    def record_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in Patient.RECORD_FIELDS}

    def clean(self):
        data = super().clean()
        if (
            data.get("age_years") is None
            and not data.get("birth_date")
            and "age_years" not in self.errors
            and "birth_date" not in self.errors
        ):
            self.add_error("age_years", "Give the age in years or the date of birth.")
        if data.get("consent_by_relatives") and not data.get("consent_date"):
            self.add_error("consent_date", "Give the date the relatives gave consent.")
        return data


class PatientRegistrationForm(PatientFieldsForm):
    code = forms.CharField(
        label="Patient code",
        max_length=20,
        help_text="Pseudonymised code, e.g. SAL-P14. Never a name or a record number.",
    )
    weight_kg = forms.DecimalField(
        label="Body weight (kg)", max_digits=5, decimal_places=1, help_text="20–300 kg."
    )
    weighed_on = forms.DateField(
        label="Weighed on", widget=DateInput(), initial=timezone.localdate
    )

    field_order = ["code", "hospital", "age_years", "birth_date", "sex", "weight_kg", "weighed_on"]

    def clean_code(self):
        return self.cleaned_data["code"].strip().upper()


class PatientCorrectionForm(PatientFieldsForm):
    reason = forms.CharField(
        label="Reason for the correction",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What was wrong and where the right value comes from.",
    )


class AssessmentForm(forms.ModelForm):
    """The recorded inclusion/exclusion values; each may be left 'not recorded'."""

    class Meta:
        model = ClinicalAssessment
        fields = ["assessed_on", *ClinicalAssessment.VALUE_FIELDS]
        widgets = {"assessed_on": DateInput()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assessed_on"].initial = timezone.localdate
        self.fields["assessed_on"].label = "Assessed on"
        for name in ClinicalAssessment.VALUE_FIELDS:
            field = self.fields[name]
            if isinstance(field, forms.NullBooleanField):
                field.widget = forms.NullBooleanSelect()
                field.widget.choices = NULL_BOOLEAN_CHOICES
            field.required = False

    def values(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in ClinicalAssessment.VALUE_FIELDS}


class WeightForm(forms.Form):
    weight_kg = forms.DecimalField(
        label="Body weight (kg)", max_digits=5, decimal_places=1, help_text="20–300 kg."
    )
    measured_on = forms.DateField(
        label="Measured on", widget=DateInput(), initial=timezone.localdate
    )


class ObservationForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            ("", "— choose —"),
            *[(k.value, f"{k.label} ({Observation.UNITS[k]})") for k in Observation.Kind],
        ]
    )
    value = forms.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    observed_at = forms.DateTimeField(label="Observed at", widget=DateTimeInput())
    note = forms.CharField(max_length=200, required=False)


class OutcomeForm(forms.Form):
    outcome_kind = forms.ChoiceField(
        label="Outcome", choices=[("", "— choose —"), *ClinicalOutcome.Kind.choices]
    )
    occurred_on = forms.DateField(label="Date", widget=DateInput())
    outcome_note = forms.CharField(label="Note", max_length=200, required=False)
