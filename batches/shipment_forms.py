"""Input shapes of shipments: production's new shipment and declined request (admin),
the QP's signed decision on an excursion, and the pharmacy's receipt and request (pages).
Forms check input; `batches.services` (shipments, shipment_decisions) decides."""

from __future__ import annotations

from django import forms

from audit.admin import ReasonForm
from batches.forms import SignForm
from batches.models import Bag, Shipment, ShipmentRequest
from core.widgets import IsoDateTimeInput
from sites.models import Hospital


class ExcursionDecisionForm(SignForm):
    """The QP's decision on bags an excursion quarantined (`DECISIONS["excursion"]`)."""

    outcome = forms.ChoiceField(
        choices=Shipment.Decision.choices,
        widget=forms.RadioSelect,
        help_text="Release the bags for use at the hospital, or discard them.",
    )
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="What the logger showed and why you decide so (required to discard).",
    )


class ShipmentForm(ReasonForm):
    """A new shipment in the admin: from a facility to a hospital, with its bags."""

    bags = forms.ModelMultipleChoiceField(
        queryset=Bag.objects.none(),
        widget=forms.SelectMultiple(attrs={"size": 12}),
        help_text="Available bags of released batches, stored at the facility.",
    )
    request = forms.ModelChoiceField(
        queryset=ShipmentRequest.objects.none(),
        required=False,
        help_text="The pharmacy's request this shipment answers, if any.",
    )

    class Meta:
        model = Shipment
        fields = ["facility", "hospital", "shipper_id", "logger_id"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None:
            # From one of the user's facilities (any hospital of the network receives).
            facility = self.fields["facility"]
            facility.queryset = facility.queryset.scoped_to(user)
            self.fields["hospital"].queryset = Hospital.objects.order_by("code")
            self.fields["bags"].queryset = (
                Bag.objects.for_user(user)
                .available_for_allocation()
                .filter(location__facility__isnull=False)
                .exclude(shipment_items__open=True)
            )
            self.fields["request"].queryset = ShipmentRequest.objects.for_user(user).open()


class DeclineRequestForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why the request cannot be shipped (the pharmacy reads it).",
    )


class ReceiveShipmentForm(forms.Form):
    """The pharmacy's receipt: the logger's result and the box the bags go in."""

    logger_result = forms.ChoiceField(
        choices=Shipment.LoggerResult.choices,
        widget=forms.RadioSelect,
        label="Temperature logger",
    )
    received_at = forms.DateTimeField(
        label="Received at",
        widget=IsoDateTimeInput(),
    )
    tank = forms.CharField(max_length=20, initial="PH-1")
    rack = forms.CharField(max_length=20, initial="1")
    box = forms.CharField(max_length=20, help_text="The bags take its first free positions.")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 50}))


class ShipmentRequestForm(forms.Form):
    """The pharmacy's request: for which of the user's hospitals (`hospitals`, the only
    ones offered), from which facility, how many bags."""

    NO_HOSPITAL = "You belong to no hospital: ask an administrator."

    hospital = forms.ModelChoiceField(queryset=None, empty_label=None, label="For hospital")
    facility = forms.ModelChoiceField(queryset=None, empty_label=None)
    bags_wanted = forms.IntegerField(min_value=1, max_value=25, initial=2)
    note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 50}),
        help_text="What is needed and by when: patient codes only, never names.",
    )

    def __init__(self, *args, facilities=None, hospitals=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facility"].queryset = facilities
        self.fields["hospital"].queryset = hospitals
        self.has_hospital = hospitals.exists()
        if not self.has_hospital:
            self.fields["hospital"].required = False

    def clean(self):
        if not self.has_hospital:
            raise forms.ValidationError(self.NO_HOSPITAL)
        return super().clean()
