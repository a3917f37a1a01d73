"""Clinician pages under /clinic/: the ward worklist, the infusion record, adverse events."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from core import notices
from core.exceptions import DomainError
from core.forms import show_refusal
from core.views import requires
from dosing import rules, services, worklists
from dosing.forms import (
    AdverseEventForm,
    InfusionForm,
    ScanForm,
)
from dosing.models import Dose
from dosing.views.common import INFUSE, dose_or_404
from dosing.views.worklists import (
    render_worklist,
)
from patients.querysets import patient_or_404


@requires(INFUSE)
def clinic_worklist(request):
    """The ward's worklist: patients with a dose dispensed to infuse (by its use-before
    time, the most pressing first) or an adverse event to follow up; then the finished
    ones; search by code; paged; a fixed number of queries (`dosing.worklists`)."""
    return render_worklist(
        request,
        to_do=worklists.ward_to_do,
        finished=worklists.ward_finished,
        template="clinic/worklist.html",
        section=notices.CLINIC,
    )


@requires(INFUSE)
def bedside_scan(request, pk: int):
    """The bedside check before the infusion form: the wristband, then each bag. Each
    scan is answered at once (match or refusal with its reason) and kept on the trail."""
    dose = dose_or_404(request, pk)
    if request.method == "POST":
        form = ScanForm(request.POST)
        if form.is_valid():
            scan = services.record_bedside_scan(
                dose, actor=request.user, code=form.cleaned_data["code"]
            )
            if scan.matched:
                messages.success(request, f"{scan.get_kind_display()} {scan.scanned_code}: match.")
            else:
                messages.error(request, scan.refusal)
            return redirect("clinic:bedside-scan", pk=dose.pk)
    else:
        form = ScanForm()
    check = rules.bedside_check(dose)
    return render(
        request,
        "clinic/bedside_scan.html",
        {
            "dose": dose,
            "check": check,
            "form": form,
            "scans": dose.scans.select_related("scanned_by").order_by("-scanned_at", "-pk")[:20],
        },
    )


@requires(INFUSE)
def infusion_record(request, pk: int):
    dose = dose_or_404(request, pk)
    if dose.status == Dose.Status.DISPENSED and not rules.bedside_check(dose).complete:
        messages.info(request, "Scan the patient's wristband and every bag before the infusion.")
        return redirect("clinic:bedside-scan", pk=dose.pk)
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
                show_refusal(error, [form])
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


@requires(INFUSE)
def adverse_event_report(request, code: str):
    patient = patient_or_404(request.user, code)
    if request.method == "POST":
        form = AdverseEventForm(request.POST, patient=patient)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.report_adverse_event(patient, actor=request.user, **data)
            except DomainError as error:
                show_refusal(error, [form])
            else:
                messages.success(request, f"Adverse event reported for {patient.code}.")
                return redirect("dosing:patient-detail", code=patient.code)
    else:
        form = AdverseEventForm(patient=patient)
    return render(request, "clinic/adverse_event_form.html", {"patient": patient, "form": form})
