"""Pharmacy and clinic pages for patients: thin, they validate a form and call a service.

Anonymous users are sent to the login page; a logged-in user without the permission a
page needs gets 403. Forms are shown only to users allowed to submit them, so auditors
see the same pages read-only.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse

from audit.history import history_for
from core.forms import show_refusal
from core.views import requires
from patients import services
from patients.eligibility import evaluate_eligibility
from patients.exceptions import PatientError
from patients.forms import (
    AssessmentForm,
    ObservationForm,
    OutcomeForm,
    PatientCorrectionForm,
    PatientRegistrationForm,
    WeightForm,
)
from patients.models import Patient, WeightMeasurement
from patients.next_steps import next_steps
from patients.querysets import observations_of, patient_or_404


def _require(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


PATIENTS_PER_PAGE = 50


@requires("patients.view_patient")
def patient_list(request):
    """The register of patients, by code: hospital, current weight and eligibility; search
    by code; paged in SQL (a fixed number of queries). What to do next, by deadline, is the
    worklists' (`/pharmacy/`, `/clinic/`), not this page's."""
    term = " ".join(request.GET.get("q", "").split()).upper()[:40]
    patients = Patient.objects.for_user(request.user).with_records().order_by("code")
    if term:
        patients = patients.filter(code__icontains=term)
    page = Paginator(patients, PATIENTS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {"patient": p, "weight": p.current_weight(), "eligibility": evaluate_eligibility(p)}
        for p in page.object_list
    ]
    return render(
        request,
        "patients/patient_list.html",
        {
            "rows": rows,
            "page": page,
            "q": term,
            "can_register": request.user.has_perm("patients.add_patient"),
        },
    )


@requires(
    "patients.add_patient", "patients.add_weightmeasurement", "patients.add_clinicalassessment"
)
def patient_register(request):
    """Register a patient with a first weight and assessment, then show eligibility."""
    if request.method == "POST":
        form = PatientRegistrationForm(request.POST, prefix="patient", user=request.user)
        assessment_form = AssessmentForm(request.POST, prefix="assessment")
        if form.is_valid() and assessment_form.is_valid():
            data = form.cleaned_data
            try:
                patient = services.register_patient(
                    code=data["code"],
                    **form.record_values(),
                    weight_kg=data["weight_kg"],
                    weighed_on=data["weighed_on"],
                    assessment=assessment_form.values(),
                    assessed_on=assessment_form.cleaned_data["assessed_on"],
                    actor=request.user,
                )
            except PatientError as error:
                show_refusal(error, [form, assessment_form], {"measured_on": "weighed_on"})
            else:
                messages.success(request, f"Patient {patient.code} registered.")
                return redirect("patients:patient-eligibility", code=patient.code)
    else:
        form = PatientRegistrationForm(prefix="patient", user=request.user)
        assessment_form = AssessmentForm(prefix="assessment")
    return render(
        request,
        "patients/patient_register.html",
        {"form": form, "assessment_form": assessment_form},
    )


@requires("patients.view_patient", "patients.view_clinicalassessment")
def patient_eligibility(request, code: str):
    """Criterion-by-criterion eligibility from the latest assessment; a form for a new one."""
    patient = patient_or_404(request.user, code)
    can_assess = request.user.has_perm("patients.add_clinicalassessment")
    form = AssessmentForm(prefix="assessment")
    if request.method == "POST":
        _require(request, "patients.add_clinicalassessment")
        form = AssessmentForm(request.POST, prefix="assessment")
        if form.is_valid():
            try:
                services.record_assessment(
                    patient,
                    values=form.values(),
                    assessed_on=form.cleaned_data["assessed_on"],
                    actor=request.user,
                )
            except PatientError as error:
                show_refusal(error, [form])
            else:
                messages.success(request, "Assessment recorded; eligibility re-evaluated.")
                return redirect("patients:patient-eligibility", code=patient.code)
    assessments = list(patient.assessments.order_by("-assessed_on", "-pk"))
    latest = assessments[0] if assessments else None
    eligibility = evaluate_eligibility(patient, latest)
    return render(
        request,
        "patients/patient_eligibility.html",
        {
            "patient": patient,
            "eligibility": eligibility,
            "next_steps": next_steps(patient, user=request.user, eligibility=eligibility),
            "weight": patient.current_weight(),
            "assessments": assessments,
            "form": form if can_assess else None,
            "can_correct": request.user.has_perm("patients.change_patient"),
        },
    )


@requires("patients.view_patient", "patients.view_weightmeasurement")
def patient_weight(request, code: str):
    """The weight history and a form to record a new weight."""
    patient = patient_or_404(request.user, code)
    can_add = request.user.has_perm("patients.add_weightmeasurement")
    form = WeightForm()
    if request.method == "POST":
        _require(request, "patients.add_weightmeasurement")
        form = WeightForm(request.POST)
        if form.is_valid():
            try:
                services.record_weight(
                    patient,
                    weight_kg=form.cleaned_data["weight_kg"],
                    measured_on=form.cleaned_data["measured_on"],
                    actor=request.user,
                )
            except PatientError as error:
                show_refusal(error, [form])
            else:
                messages.success(request, "Weight recorded.")
                return redirect("patients:patient-weight", code=patient.code)
    weights = list(
        WeightMeasurement.objects.filter(patient=patient).order_by("-measured_on", "-pk")
    )
    return render(
        request,
        "patients/patient_weight.html",
        {
            "patient": patient,
            "weights": weights,
            "current": weights[0] if weights else None,
            "form": form if can_add else None,
        },
    )


@requires("patients.view_patient", "patients.view_observation")
def patient_observations(request, code: str):
    """Follow-up observations and outcomes, with forms to add either."""
    patient = patient_or_404(request.user, code)
    can_observe = request.user.has_perm("patients.add_observation")
    can_outcome = request.user.has_perm("patients.add_clinicaloutcome")
    form = ObservationForm(prefix="obs")
    outcome_form = OutcomeForm(prefix="outcome")
    if request.method == "POST":
        if request.POST.get("record") == "outcome":
            _require(request, "patients.add_clinicaloutcome")
            outcome_form = OutcomeForm(request.POST, prefix="outcome")
            if outcome_form.is_valid():
                data = outcome_form.cleaned_data
                try:
                    services.record_outcome(
                        patient,
                        kind=data["outcome_kind"],
                        occurred_on=data["occurred_on"],
                        note=data["outcome_note"],
                        actor=request.user,
                    )
                except PatientError as error:
                    show_refusal(
                        error,
                        [outcome_form],
                        {"kind": "outcome_kind", "note": "outcome_note"},
                    )
                else:
                    messages.success(request, "Outcome recorded.")
                    return redirect("patients:patient-observations", code=patient.code)
        else:
            _require(request, "patients.add_observation")
            form = ObservationForm(request.POST, prefix="obs")
            if form.is_valid():
                data = form.cleaned_data
                try:
                    services.record_observation(
                        patient,
                        kind=data["kind"],
                        value=data["value"],
                        observed_at=data["observed_at"],
                        note=data["note"],
                        actor=request.user,
                    )
                except PatientError as error:
                    show_refusal(error, [form])
                else:
                    messages.success(request, "Observation recorded.")
                    return redirect("patients:patient-observations", code=patient.code)
    return render(
        request,
        "patients/patient_observations.html",
        {
            "patient": patient,
            "observations": list(observations_of(patient)),
            "outcomes": list(patient.outcomes.order_by("occurred_on", "pk")),
            "form": form if can_observe else None,
            "outcome_form": outcome_form if can_outcome else None,
        },
    )


@requires("patients.view_patient", "patients.change_patient")
def patient_correct(request, code: str):
    """Correct the patient record (hospital, age, sex, consent, AEMPS ref) with a reason."""
    patient = patient_or_404(request.user, code)
    if request.method == "POST":
        form = PatientCorrectionForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                services.correct_patient(
                    patient,
                    changes=form.record_values(),
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except PatientError as error:
                show_refusal(error, [form])
            else:
                messages.success(request, f"Patient {patient.code} corrected.")
                return redirect("patients:patient-eligibility", code=patient.code)
    else:
        initial = {name: getattr(patient, name) for name in Patient.RECORD_FIELDS}
        form = PatientCorrectionForm(initial=initial, user=request.user)
    return render(
        request,
        "patients/patient_correct.html",
        {
            "patient": patient,
            "form": form,
            "history": history_for(patient),
            "cancel_url": reverse("patients:patient-eligibility", args=[patient.code]),
        },
    )
