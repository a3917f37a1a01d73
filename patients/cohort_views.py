"""The clinical-course page under /clinic/patient/<code>/record/: thin, one form per record.

Each form posts `record=<name>`; the view validates it and calls its service in
`patients.cohort_services`, putting every refusal beside its field. Users without the
add permission (pharmacy, auditors) see the same page read-only.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render

from core.forms import show_refusal
from core.views import requires
from patients import cohort_forms as f
from patients import cohort_services as services
from patients.exceptions import PatientError
from patients.models import HospitalStay, LymphocyteSubsets, Observation
from patients.querysets import patient_or_404


def _stay(patient, data, actor):
    return services.record_stay(
        patient,
        admitted_on=data["admitted_on"],
        follow_up_ended_on=data["follow_up_ended_on"],
        actor=actor,
        reason=data["reason"],
    )


def _period(patient, data, actor):
    return services.record_support_period(
        patient,
        kind=data["kind"],
        started_at=data["started_at"],
        ended_at=data["ended_at"],
        actor=actor,
    )


def _end(patient, data, actor):
    period = get_object_or_404(patient.support_periods, pk=data["period"])
    return services.end_support_period(period, ended_at=data["ended_at"], actor=actor)


def _xray(patient, data, actor):
    return services.record_xray_score(
        patient, taken_on=data["taken_on"], wong_score=data["wong_score"], actor=actor
    )


def _subsets(patient, data, actor):
    counts = {name: data[name] for name in LymphocyteSubsets.COUNT_FIELDS}
    return services.record_lymphocyte_subsets(
        patient,
        timepoint=data["timepoint"],
        sampled_on=data["sampled_on"],
        counts=counts,
        actor=actor,
    )


def _infection(patient, data, actor):
    return services.record_infection(
        patient,
        organism=data["organism"],
        site=data["site"],
        diagnosed_on=data["diagnosed_on"],
        actor=actor,
    )


# record name → (form, service call, permission, message)
RECORDS = {
    "stay": (f.StayForm, _stay, "patients.add_hospitalstay", "Hospital stay recorded."),
    "period": (f.SupportPeriodForm, _period, "patients.add_supportperiod", "Period recorded."),
    "end": (f.EndPeriodForm, _end, "patients.change_supportperiod", "Period ended."),
    "xray": (f.XrayForm, _xray, "patients.add_chestxray", "Chest X-ray score recorded."),
    "subsets": (
        f.SubsetsForm,
        _subsets,
        "patients.add_lymphocytesubsets",
        "Lymphocyte subsets recorded.",
    ),
    "infection": (f.InfectionForm, _infection, "patients.add_infection", "Infection recorded."),
}


@requires("patients.view_patient", "patients.view_hospitalstay")
def clinical_record(request, code: str):
    """The patient's clinical course with a form for each kind of record."""
    patient = patient_or_404(request.user, code)
    forms = {name: spec[0](prefix=name) for name, spec in RECORDS.items()}
    if request.method == "POST":
        name = request.POST.get("record")
        if name not in RECORDS:
            raise PermissionDenied
        form_class, call, perm, done = RECORDS[name]
        if not request.user.has_perm(perm):
            raise PermissionDenied
        form = forms[name] = form_class(request.POST, prefix=name)
        if form.is_valid():
            try:
                call(patient, form.cleaned_data, request.user)
            except PatientError as error:
                show_refusal(error, [form])
            else:
                messages.success(request, done)
                return redirect("record:clinical-record", code=patient.code)
    allowed = {name: request.user.has_perm(spec[2]) for name, spec in RECORDS.items()}
    periods = list(patient.support_periods.order_by("started_at", "pk"))
    context = {
        "patient": patient,
        "stay": HospitalStay.objects.filter(patient=patient).first(),
        "periods": periods,
        "open_periods": [p for p in periods if p.ended_at is None],
        "xrays": patient.xrays.order_by("taken_on"),
        "subsets": patient.lymphocyte_subsets.order_by("sampled_on"),
        "infections": patient.infections.order_by("diagnosed_on"),
        "who_scores": patient.observations.filter(kind=Observation.Kind.WHO_SCALE).order_by(
            "observed_at"
        ),
        "forms": {name: form for name, form in forms.items() if allowed[name]},
    }
    return render(request, "patients/clinical_record.html", context)
