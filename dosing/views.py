"""Pharmacy and clinic pages: thin views that validate a form and call a service.

A `DomainError` from a service becomes a form error (next to its field when the error
names one), and the bound form is shown again with what was typed.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from batches.models import Bag
from core.exceptions import DomainError
from dosing import services
from dosing.forms import (
    AdverseEventForm,
    AllocateForm,
    CancelForm,
    InfusionForm,
    OrderForm,
    RefreshForm,
)
from dosing.models import AdverseEvent, Dose, DoseBag, Protocol
from patients.eligibility import evaluate_eligibility
from patients.models import Patient

VIEW = "dosing.view_dose"
ALLOCATE = "dosing.allocate_dose"
DISPENSE = "dosing.dispense_dose"
INFUSE = "dosing.record_infusion"
ASSESS = "patients.add_clinicalassessment"

PHARMACY = "the pharmacy"
WARD = "the ward"


def _requires(perm):
    """Anonymous → login page; signed in without the permission → 403."""

    def decorator(view):
        return login_required(permission_required(perm, raise_exception=True)(view))

    return decorator


def _refusal(form, error: DomainError):
    """The refusal next to the field it names, else once at the top of the form."""
    field = form.fields.get(error.field) if error.field else None
    if field is not None and not field.widget.is_hidden:
        for message in error.messages:
            form.add_error(error.field, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


def _dose(pk) -> Dose:
    return get_object_or_404(Dose.objects.select_related("patient", "protocol", "batch"), pk=pk)


def _local(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M") if moment else None


# --- next step -----------------------------------------------------------------------------


def next_step(patient: Patient, doses: list[Dose], eligible: bool, protocol, user) -> dict:
    """What the pharmacy (or ward) does next for this patient, for the worklist.

    The step is a link only for a user who may take it (else it would lead to a 403);
    for anyone else it is shown as text with who takes it.
    """
    live = [d for d in doses if d.status != Dose.Status.CANCELLED]
    last = live[-1] if live else None
    if last is not None and last.status != Dose.Status.INFUSED:
        steps = {
            Dose.Status.ORDERED: ("Allocate bags", "dosing:dose-allocate", ALLOCATE, PHARMACY),
            Dose.Status.ALLOCATED: ("Thaw or refresh", "dosing:dose-prepare", ALLOCATE, PHARMACY),
            Dose.Status.PREPARED: ("Dispense", "dosing:dose-dispense", DISPENSE, PHARMACY),
            Dose.Status.DISPENSED: (
                "Record the infusion",
                "clinic:infusion-record",
                INFUSE,
                WARD,
            ),
        }
        label, name, perm, by = steps[last.status]
        label = f"Dose {last.number}: {label}"
        href = reverse(name, args=[last.pk])
    elif protocol is not None and len(live) >= protocol.max_doses:
        return {"label": "All doses given", "href": None, "by": None}
    elif not eligible:
        label, perm, by = "Complete eligibility", ASSESS, PHARMACY
        href = reverse("patients:patient-eligibility", args=[patient.code])
    else:
        label, perm, by = f"Order dose {len(live) + 1}", ALLOCATE, PHARMACY
        href = reverse("dosing:dose-order", args=[patient.code])
    if not user.has_perm(perm):
        return {"label": label, "href": None, "by": by}
    return {"label": label, "href": href, "by": by}


# --- pharmacy ------------------------------------------------------------------------------


@_requires(VIEW)
def worklist(request):
    patients = Patient.objects.prefetch_related(
        "weights",
        "assessments",
        "outcomes",
        Prefetch("doses", queryset=Dose.objects.select_related("batch").order_by("number")),
    ).order_by("code")
    protocol = Protocol.objects.filter(active=True).order_by("-version").first()
    today = timezone.localdate()
    rows = []
    for patient in patients:
        doses = list(patient.doses.all())
        eligibility = evaluate_eligibility(patient, on=today)
        rows.append(
            {
                "patient": patient,
                "weight": patient.current_weight(),
                "eligible": eligibility.is_eligible,
                "doses": doses,
                "step": next_step(patient, doses, eligibility.is_eligible, protocol, request.user),
            }
        )
    return render(request, "dosing/worklist.html", {"rows": rows})


@_requires(VIEW)
def patient_detail(request, code: str):
    patient = get_object_or_404(Patient, code=code)
    doses = list(
        Dose.objects.filter(patient=patient)
        .select_related("batch", "batch__donor", "protocol", "preparation", "infusion")
        .prefetch_related(
            Prefetch("dose_bags", queryset=DoseBag.objects.select_related("bag").order_by("pk"))
        )
        .order_by("number", "pk")
    )
    eligibility = evaluate_eligibility(patient, on=timezone.localdate())
    protocol = doses[-1].protocol if doses else None
    if protocol is None:
        try:
            protocol = services.active_protocol()
        except DomainError:
            protocol = None
    adverse_events = list(
        AdverseEvent.objects.filter(patient=patient).select_related("dose", "dose__patient")
    )
    events = (
        AuditEvent.objects.filter(
            object_type="dosing.dose", object_id__in=[str(d.pk) for d in doses]
        )
        .select_related("actor")
        .order_by("seq")
    )
    return render(
        request,
        "dosing/patient_detail.html",
        {
            "patient": patient,
            "weight": patient.current_weight(),
            "eligibility": eligibility,
            "doses": doses,
            "adverse_events": adverse_events,
            "events": events,
            "step": next_step(patient, doses, eligibility.is_eligible, protocol, request.user),
            "can_allocate": request.user.has_perm(ALLOCATE),
            "can_dispense": request.user.has_perm(DISPENSE),
            "can_infuse": request.user.has_perm(INFUSE),
        },
    )


@_requires(ALLOCATE)
def dose_order(request, code: str):
    patient = get_object_or_404(Patient, code=code)
    weight = patient.current_weight()
    eligibility = evaluate_eligibility(patient, on=timezone.localdate())
    try:
        protocol = services.active_protocol()
    except DomainError as error:
        protocol = None
        messages.error(request, str(error))
    plan = None
    if protocol is not None and weight is not None:
        plan = services.plan_dose(patient, weight_kg=weight.weight_kg, protocol=protocol)
    window = None
    previous = services.live_doses(patient).select_related("infusion").last()
    if protocol is not None and previous is not None and previous.status == Dose.Status.INFUSED:
        window = services.interval_window(previous, protocol)

    if request.method == "POST":
        form = OrderForm(request.POST)
        if form.is_valid():
            try:
                dose = services.order_dose(
                    patient, actor=request.user, planned_for=form.cleaned_data["planned_for"]
                )
            except DomainError as error:
                _refusal(form, error)
            else:
                messages.success(request, f"Dose {dose.code} ordered. Now allocate its bags.")
                return redirect("dosing:dose-allocate", pk=dose.pk)
    else:
        # Never a time the user did not choose: now for a first dose, or when now is inside
        # the window; otherwise empty, with the window shown to choose from.
        now = timezone.now()
        in_window = window is None or window[0] <= now <= window[1]
        form = OrderForm(initial={"planned_for": _local(now) if in_window else None})
    return render(
        request,
        "dosing/dose_order.html",
        {
            "patient": patient,
            "weight": weight,
            "eligibility": eligibility,
            "protocol": protocol,
            "plan": plan,
            "window": window,
            "form": form,
        },
    )


@_requires(ALLOCATE)
def dose_allocate(request, pk: int):
    dose = _dose(pk)
    if dose.status != Dose.Status.ORDERED:
        return redirect("dosing:patient-detail", code=dose.patient.code)
    plan = services.plan_dose(
        dose.patient,
        weight_kg=dose.weight_kg,
        protocol=dose.protocol,
        exclude=dose,
        first_dose_at=dose.planned_for,
    )
    if request.method == "POST":
        form = AllocateForm(request.POST)
        if form.is_valid():
            codes = form.bag_codes()
            bags = list(Bag.objects.filter(code__in=codes))
            try:
                if len(bags) != len(codes):
                    raise DomainError("A bag of the proposal no longer exists: reload the page.")
                services.allocate_dose(
                    dose,
                    actor=request.user,
                    bags=bags,
                    override_physician=form.cleaned_data["override_physician"],
                    override_reason=form.cleaned_data["override_reason"],
                    choice_reason=form.cleaned_data["choice_reason"],
                )
            except DomainError as error:
                _refusal(form, error)
            else:
                messages.success(request, f"Bags reserved for dose {dose.code}.")
                return redirect("dosing:patient-detail", code=dose.patient.code)
    else:
        form = AllocateForm(initial={"bags": ",".join(plan.bag_codes)})
    return render(request, "dosing/dose_allocate.html", {"dose": dose, "plan": plan, "form": form})


@_requires(ALLOCATE)
def dose_prepare(request, pk: int):
    """Thaw (one button) or refresh (the culture record) for an allocated dose."""
    dose = _dose(pk)
    if dose.status != Dose.Status.ALLOCATED:
        return redirect("dosing:patient-detail", code=dose.patient.code)
    refresh_form = RefreshForm()
    thaw_errors = []
    if request.method == "POST" and request.POST.get("method") == "thawed":
        try:
            services.record_thaw(dose, actor=request.user)
        except DomainError as error:
            thaw_errors = error.messages
        else:
            messages.success(request, f"Dose {dose.code} thawed. Dispense it now.")
            return redirect("dosing:dose-dispense", pk=dose.pk)
    elif request.method == "POST":
        refresh_form = RefreshForm(request.POST)
        if refresh_form.is_valid():
            data = refresh_form.cleaned_data
            try:
                services.record_refresh(dose, actor=request.user, **data)
            except DomainError as error:
                _refusal(refresh_form, error)
            else:
                messages.success(request, f"Refresh of dose {dose.code} recorded.")
                return redirect("dosing:dose-dispense", pk=dose.pk)
    return render(
        request,
        "dosing/dose_prepare.html",
        {
            "dose": dose,
            "links": dose.dose_bags.filter(live=True).select_related("bag"),
            "form": refresh_form,
            "thaw_errors": thaw_errors,
        },
    )


@_requires(DISPENSE)
def dose_dispense(request, pk: int):
    dose = _dose(pk)
    if dose.status != Dose.Status.PREPARED:
        return redirect("dosing:patient-detail", code=dose.patient.code)
    preparation = dose.preparation
    errors = []
    if request.method == "POST":
        try:
            services.dispense_dose(dose, actor=request.user)
        except DomainError as error:
            errors = error.messages
        else:
            messages.success(request, f"Dose {dose.code} dispensed to the ward.")
            return redirect("dosing:patient-detail", code=dose.patient.code)
    return render(
        request,
        "dosing/dose_dispense.html",
        {
            "dose": dose,
            "preparation": preparation,
            "use_before": services.use_before(preparation, dose.protocol),
            "errors": errors,
        },
    )


@_requires(ALLOCATE)
def dose_cancel(request, pk: int):
    dose = _dose(pk)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.cancel_dose(dose, actor=request.user, reason=form.cleaned_data["reason"])
        except DomainError as error:
            _refusal(form, error)
        else:
            messages.success(request, f"Dose {dose.code} cancelled.")
            return redirect("dosing:patient-detail", code=dose.patient.code)
    return render(request, "dosing/dose_cancel.html", {"dose": dose, "form": form})


# --- clinic --------------------------------------------------------------------------------


@_requires(INFUSE)
def clinic_worklist(request):
    doses = (
        Dose.objects.filter(status=Dose.Status.DISPENSED)
        .select_related("patient", "preparation", "batch")
        .order_by("use_before")
    )
    return render(request, "clinic/worklist.html", {"doses": doses, "now": timezone.now()})


@_requires(INFUSE)
def infusion_record(request, pk: int):
    dose = _dose(pk)
    if request.method == "POST":
        form = InfusionForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.record_infusion(
                    dose,
                    actor=request.user,
                    started_at=data["started_at"],
                    ended_at=data["ended_at"],
                    filter_confirmed=data["filter_200um_confirmed"],
                    premedication_given=data["premedication_given"],
                    immediate_reactions=data["immediate_reactions"],
                    vitals=form.vitals(),
                )
            except DomainError as error:
                _refusal(form, error)
            else:
                messages.success(request, f"Infusion of dose {dose.code} recorded.")
                # The ward worklist no longer lists the dose: the patient page shows the
                # record and the way to report an adverse event.
                return redirect("dosing:patient-detail", code=dose.patient.code)
    else:
        # "Started at" stays empty: the record is made after the infusion, so "now" would
        # nearly always be wrong; the nurse copies the time from the bedside chart.
        form = InfusionForm()
    preparation = getattr(dose, "preparation", None)
    links = list(dose.dose_bags.filter(live=True).select_related("bag").order_by("pk"))
    return render(
        request,
        "clinic/infusion_form.html",
        {"dose": dose, "preparation": preparation, "links": links, "form": form},
    )


@_requires(INFUSE)
def adverse_event_report(request, code: str):
    patient = get_object_or_404(Patient, code=code)
    if request.method == "POST":
        form = AdverseEventForm(request.POST, patient=patient)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.report_adverse_event(patient, actor=request.user, **data)
            except DomainError as error:
                _refusal(form, error)
            else:
                messages.success(request, f"Adverse event reported for {patient.code}.")
                return redirect("dosing:patient-detail", code=patient.code)
    else:
        form = AdverseEventForm(patient=patient)
    return render(request, "clinic/adverse_event_form.html", {"patient": patient, "form": form})
