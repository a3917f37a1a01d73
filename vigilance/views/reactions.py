"""Serious adverse reaction notifications: part A from the adverse event, part B, the
report and a PDF of each part (clinicians sign; pharmacy and auditors read)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from core.exceptions import DomainError
from core.forms import show_refusal
from core.views import requires
from dosing.models import AdverseEvent
from vigilance import services
from vigilance.forms import PartAForm, PartBForm
from vigilance.imputability import WHO_UMC_TO_IMPUTABILITY, Imputability
from vigilance.models import ReactionReport
from vigilance.pdf import report_part_pdf

REPORT = "vigilance.report_reaction"
VIEW = "vigilance.view_reactionreport"


def _event_or_404(request, pk):
    events = AdverseEvent.objects.for_user(request.user).select_related(
        "patient", "dose", "dose__infusion"
    )
    return get_object_or_404(events, pk=pk)


def _report_or_404(request, pk):
    reports = ReactionReport.objects.for_user(request.user).select_related(
        "adverse_event__patient", "part_a_signature", "part_b_signature"
    )
    return get_object_or_404(reports, pk=pk)


@requires(REPORT)
def part_a(request, event_pk: int):
    """Part A pre-filled from the record; the clinician words the reaction and signs."""
    event = _event_or_404(request, event_pk)
    existing = ReactionReport.objects.filter(adverse_event=event).first()
    if existing is not None:
        return redirect("vigilance:report", pk=existing.pk)
    initial = services.part_a_initial(event)
    form = PartAForm(
        request.POST or None,
        user=request.user,
        request=request,
        initial={"reaction_type": initial["reaction_type"]},
    )
    if request.method == "POST" and form.is_valid():
        try:
            report = services.submit_part_a(
                event,
                actor=request.user,
                password=form.cleaned_data["password"],
                reaction_type=form.cleaned_data["reaction_type"],
                session=request.session,
            )
        except DomainError as error:
            show_refusal(error, [form])
        else:
            messages.success(request, f"Notification {report.code} part A submitted and signed.")
            return redirect("vigilance:report", pk=report.pk)
    return render(
        request,
        "vigilance/part_a.html",
        {
            "event": event,
            "values": initial,
            "imputability": dict(Imputability.choices)[initial["imputability"]],
            "form": form,
        },
    )


@requires(REPORT)
def part_b(request, pk: int):
    report = _report_or_404(request, pk)
    form = PartBForm(request.POST or None, user=request.user, request=request)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.submit_part_b(
                report,
                actor=request.user,
                password=data["password"],
                confirmed=data["confirmed"],
                clinical_outcome=data["clinical_outcome"],
                corrective_measures=data["corrective_measures"],
                session=request.session,
            )
        except DomainError as error:
            show_refusal(error, [form])
        else:
            messages.success(request, f"Notification {report.code} part B submitted and signed.")
            return redirect("vigilance:report", pk=report.pk)
    return render(request, "vigilance/part_b.html", {"report": report, "form": form})


@requires(VIEW)
def report_detail(request, pk: int):
    report = _report_or_404(request, pk)
    return render(
        request,
        "vigilance/report_detail.html",
        {
            "report": report,
            "can_report": request.user.has_perm(REPORT),
            "table": [
                (category, dict(Imputability.choices)[level])
                for category, level in WHO_UMC_TO_IMPUTABILITY.items()
            ],
        },
    )


@requires(VIEW)
def report_pdf(request, pk: int, part: str):
    report = _report_or_404(request, pk)
    if part not in ("a", "b") or (part == "b" and not report.part_b_submitted):
        raise Http404("No such part.")
    response = HttpResponse(report_part_pdf(report, part), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{report.code}-part-{part}.pdf"'
    return response
