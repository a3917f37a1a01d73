"""Input shape of the pharmacy and clinic forms; the rules live in dosing.services."""

from django import forms

from core.forms import MillionCellsField
from core.widgets import IsoDateTimeInput
from dosing.models import AdverseEvent, Infusion

# A text input `YYYY-MM-DD HH:MM` with the zone beside it (`core.widgets`): the browser's
# datetime-local picker would show its own locale's 12-hour clock.
DateTimeLocalInput = IsoDateTimeInput


def _when(label, help_text=""):
    return forms.DateTimeField(label=label, widget=DateTimeLocalInput(), help_text=help_text)


class OrderForm(forms.Form):
    planned_for = _when(
        "Planned for", "When the dose is to be given; dose 2 and 3 inside the window shown above."
    )


class OverrideFields(forms.Form):
    override_physician = forms.CharField(
        label="Override: physician",
        required=False,
        max_length=200,
        help_text="Only for a dose outside the acceptable range: who orders it.",
    )
    override_reason = forms.CharField(
        label="Override: reason",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The written clinical reason.",
    )


class AllocateForm(OverrideFields):
    bags = forms.CharField(widget=forms.HiddenInput)
    choice_reason = forms.CharField(
        label="Reason for other bags",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only when the bags reserved differ from the calculator's proposal: why.",
    )

    def __init__(self, *args, recalled_batch=None, **kwargs):
        super().__init__(*args, **kwargs)
        if recalled_batch is not None:
            # The patient's batch was recalled: the course continues from another batch
            # only on a named physician's order (`dosing.rules.batch_override_failures`).
            self.fields["batch_override_physician"] = forms.CharField(
                label="Another batch: physician",
                max_length=200,
                help_text=f"Batch {recalled_batch.code} was recalled: who orders this dose "
                "from another batch.",
            )
            self.fields["batch_override_reason"] = forms.CharField(
                label="Another batch: reason",
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text="The written clinical reason to continue the course.",
            )

    def bag_codes(self) -> list[str]:
        return [c for c in self.cleaned_data["bags"].split(",") if c.strip()]

    def batch_override(self) -> dict:
        return {
            name: self.cleaned_data.get(name, "")
            for name in ("batch_override_physician", "batch_override_reason")
        }


class RefreshForm(OverrideFields):
    thawed_at = _when("Thawed at")
    seeded_at = _when("Seeded on plastic at")
    harvested_at = _when("Harvested (trypsinised) at", "Culture must last less than 72 h.")
    viable_cells = MillionCellsField(
        label="Post-harvest viable cells",
        help_text="In millions: 76 means 76×10⁶ cells. The dose is computed from this.",
    )
    viability_pct = forms.DecimalField(
        label="Viability (%)", min_value=0, max_value=100, decimal_places=1
    )
    volume_ml = forms.DecimalField(
        label="Resuspension volume (ml)",
        min_value=1,
        decimal_places=1,
        help_text="In Ringer's lactate + 1 % albumin.",
    )

    field_order = [
        "thawed_at",
        "seeded_at",
        "harvested_at",
        "viable_cells",
        "viability_pct",
        "volume_ml",
        "override_physician",
        "override_reason",
    ]


class CancelForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


# The vital signs, as rows of the before/after grid: (row label, field name stem).
VITAL_SIGNS = [
    ("Heart rate (/min)", "heart_rate"),
    ("Systolic BP (mmHg)", "systolic_bp"),
    ("Diastolic BP (mmHg)", "diastolic_bp"),
    ("SpO₂ (%)", "spo2_pct"),
    ("Temperature (°C)", "temperature_c"),
]


class InfusionForm(forms.ModelForm):
    class Meta:
        model = Infusion
        fields = [
            "started_at",
            "ended_at",
            "filter_200um_confirmed",
            "premedication_given",
            *Infusion.VITAL_FIELDS,
            "immediate_reactions",
        ]
        labels = {
            "filter_200um_confirmed": "Standard 200 µm transfusion filter used",
            "heart_rate_before": "Heart rate before (/min)",
            "systolic_bp_before": "Systolic BP before (mmHg)",
            "diastolic_bp_before": "Diastolic BP before (mmHg)",
            "spo2_pct_before": "SpO₂ before (%)",
            "temperature_c_before": "Temperature before (°C)",
            "heart_rate_after": "Heart rate after (/min)",
            "systolic_bp_after": "Systolic BP after (mmHg)",
            "diastolic_bp_after": "Diastolic BP after (mmHg)",
            "spo2_pct_after": "SpO₂ after (%)",
            "temperature_c_after": "Temperature after (°C)",
        }
        help_texts = {
            "started_at": "From the bedside chart: when the infusion began (not before "
            "dispensing, and before the use-before time above).",
            "premedication_given": "What was given before the infusion: drugs, doses, route.",
        }
        widgets = {
            "started_at": DateTimeLocalInput(),
            "ended_at": DateTimeLocalInput(),
            "premedication_given": forms.Textarea(attrs={"rows": 2, "class": "wide"}),
            "immediate_reactions": forms.Textarea(attrs={"rows": 2, "class": "wide"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Required here so the form says so next to the box; the service refuses too.
        self.fields["filter_200um_confirmed"].required = True
        # In the before/after grid the input has no visible label of its own: name it.
        for name in self.vital_names():
            self.fields[name].widget.attrs["aria-label"] = self.fields[name].label

    @staticmethod
    def vital_names() -> list[str]:
        return [f"{stem}_{when}" for _, stem in VITAL_SIGNS for when in ("before", "after")]

    def vital_rows(self) -> list[dict]:
        """The grid: one row per vital sign, its before and after inputs."""
        return [
            {"label": label, "before": self[f"{stem}_before"], "after": self[f"{stem}_after"]}
            for label, stem in VITAL_SIGNS
        ]

    def vitals(self) -> dict:
        return {
            name: self.cleaned_data[name]
            for name in self.Meta.fields
            if name.endswith(("_before", "_after"))
        }


CTCAE_GRADES = [(n, f"Grade {n}") for n in range(1, 6)]


class AdverseEventForm(forms.ModelForm):
    class Meta:
        model = AdverseEvent
        fields = [
            "dose",
            "onset_at",
            "description",
            "ctcae_grade",
            "serious",
            "outcome",
            "causality",
        ]
        widgets = {
            "onset_at": DateTimeLocalInput(),
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dose"].queryset = patient.doses.live().select_related("patient")
        self.fields["dose"].required = False
        # A required choice that starts empty: a grade is judged, never defaulted.
        self.fields["ctcae_grade"] = forms.TypedChoiceField(
            label="CTCAE grade",
            choices=[("", "— choose the grade —"), *CTCAE_GRADES],
            coerce=int,
            required=True,
        )


class ScanForm(forms.Form):
    """One scan: a hand-held scanner types the code and Enter into the focused field."""

    code = forms.CharField(
        label="Scan or type the code",
        max_length=120,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
    )
