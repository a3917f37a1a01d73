"""Pharmacy pages under /pharmacy/: thin views that validate a form and call a service.

A `DomainError` from a service becomes a form error (next to its field when the error
names one), and the bound form is shown again with what was typed.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.utils import timezone

from audit.models import AuditEvent
from batches.models import Bag, Batch
from batches.picking import pick_list
from core import notices
from core.exceptions import DomainError
from core.forms import show_refusal
from core.views import requires
from dosing import rules, services, worklists
from dosing.forms import (
    AllocateForm,
    CancelForm,
    OrderForm,
    RefreshForm,
)
from dosing.models import AdverseEvent, Dose, DoseBag
from dosing.views.common import (
    ALLOCATE,
    DISPENSE,
    INFUSE,
    VIEW,
    dose_or_404,
    dose_picks,
    local_input,
)
from dosing.views.steps import next_step
from dosing.views.worklists import (
    render_worklist,
)
from patients.eligibility import evaluate_eligibility
from patients.querysets import patient_or_404


@requires(VIEW)
def worklist(request):
    """The pharmacy's worklist: the patients with something to do first, each with its
    deadline (the most pressing first), then the finished ones; search by code; paged.
    Filtered, ordered and paged in SQL (`dosing.worklists`): a fixed number of queries."""
    return render_worklist(
        request,
        to_do=worklists.to_do,
        finished=worklists.finished,
        template="dosing/worklist.html",
        section=notices.PHARMACY,
    )


@requires(VIEW)
def patient_detail(request, code: str):
    patient = patient_or_404(request.user, code)
    doses = list(
        Dose.objects.for_user(request.user)
        .filter(patient=patient)
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


@requires(ALLOCATE)
def dose_order(request, code: str):
    patient = patient_or_404(request.user, code)
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
    previous = rules.live_doses(patient).select_related("infusion").last()
    if protocol is not None and previous is not None and previous.status == Dose.Status.INFUSED:
        window = rules.interval_window(previous, protocol)

    if request.method == "POST":
        form = OrderForm(request.POST)
        if form.is_valid():
            try:
                dose = services.order_dose(
                    patient, actor=request.user, planned_for=form.cleaned_data["planned_for"]
                )
            except DomainError as error:
                show_refusal(error, [form])
            else:
                messages.success(request, f"Dose {dose.code} ordered. Now allocate its bags.")
                return redirect("dosing:dose-allocate", pk=dose.pk)
    else:
        # Never a time the user did not choose: now for a first dose, or when now is inside
        # the window; otherwise empty, with the window shown to choose from.
        now = timezone.now()
        in_window = window is None or window[0] <= now <= window[1]
        form = OrderForm(initial={"planned_for": local_input(now) if in_window else None})
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


def _already_moved_on(request, dose: Dose, step: str):
    """The dose is past this step — someone else took it between this page's load and
    its submission (or the page is stale): say so, then show the patient."""
    if request.method == "POST":
        messages.warning(
            request,
            f"Dose {dose.code} is already {dose.get_status_display().lower()}: someone "
            f"else took this step a moment ago, and your {step} was not recorded.",
        )
    return redirect("dosing:patient-detail", code=dose.patient.code)


@requires(ALLOCATE)
def dose_allocate(request, pk: int):
    dose = dose_or_404(request, pk)
    if dose.status != Dose.Status.ORDERED:
        return _already_moved_on(request, dose, "allocation")
    course_batch = services.patient_batch(dose.patient, exclude=dose)
    recalled = (
        course_batch if course_batch and course_batch.status == Batch.Status.RECALLED else None
    )
    plan = services.plan_dose(
        dose.patient,
        weight_kg=dose.weight_kg,
        protocol=dose.protocol,
        exclude=dose,
        planned_for=dose.planned_for,
        replace_recalled=recalled is not None,
    )
    if request.method == "POST":
        form = AllocateForm(request.POST, recalled_batch=recalled)
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
                    **form.batch_override(),
                )
            except DomainError as error:
                show_refusal(error, [form])
            else:
                messages.success(request, f"Bags reserved for dose {dose.code}.")
                return redirect("dosing:patient-detail", code=dose.patient.code)
    else:
        form = AllocateForm(initial={"bags": ",".join(plan.bag_codes)}, recalled_batch=recalled)
    proposed = Bag.objects.for_user(request.user).filter(code__in=plan.bag_codes)
    return render(
        request,
        "dosing/dose_allocate.html",
        {
            "dose": dose,
            "plan": plan,
            "form": form,
            "picks": pick_list(proposed.select_related("location")),
            "recalled": recalled,
        },
    )


@requires(ALLOCATE)
def dose_prepare(request, pk: int):
    """Thaw (one button) or refresh (the culture record) for an allocated dose."""
    dose = dose_or_404(request, pk)
    if dose.status != Dose.Status.ALLOCATED:
        return _already_moved_on(request, dose, "preparation")
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
                show_refusal(error, [refresh_form])
            else:
                messages.success(request, f"Refresh of dose {dose.code} recorded.")
                return redirect("dosing:dose-dispense", pk=dose.pk)
    return render(
        request,
        "dosing/dose_prepare.html",
        {
            "dose": dose,
            "links": dose.dose_bags.filter(live=True).select_related("bag"),
            "picks": dose_picks(dose),
            "form": refresh_form,
            "thaw_errors": thaw_errors,
        },
    )


@requires(DISPENSE)
def dose_dispense(request, pk: int):
    dose = dose_or_404(request, pk)
    if dose.status != Dose.Status.PREPARED:
        return _already_moved_on(request, dose, "dispensing")
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
            "use_before": rules.use_before(preparation, dose.protocol),
            "picks": dose_picks(dose),
            "errors": errors,
        },
    )


@requires(ALLOCATE)
def dose_cancel(request, pk: int):
    dose = dose_or_404(request, pk)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.cancel_dose(dose, actor=request.user, reason=form.cleaned_data["reason"])
        except DomainError as error:
            show_refusal(error, [form])
        else:
            messages.success(request, f"Dose {dose.code} cancelled.")
            return redirect("dosing:patient-detail", code=dose.patient.code)
    return render(request, "dosing/dose_cancel.html", {"dose": dose, "form": form})


# --- clinic --------------------------------------------------------------------------------
