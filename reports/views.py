"""The cohort report page, /reports/cohort/ (and its PDF): thin, over `reports.report`."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render

from core.views import requires
from reports import charts, pdf
from reports.report import REQUIRED_PERMISSIONS, CohortFilter, build, flat


def _report(request):
    form = CohortFilter(request.GET or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    return form, (build(request.user, filters) if not form.errors else None)


def _lines(report) -> list[dict]:
    return [
        {"figure": path, "value": value, "published": report.published.get(path)}
        for path, value in flat(report.figures)
    ]


@requires(*REQUIRED_PERMISSIONS)
def cohort(request):
    """The figures beside the published ones, and the rows they are computed from."""
    form, report = _report(request)
    context = {"form": form, "report": report, "charts": charts.available()}
    if report is not None:
        context |= {"lines": _lines(report), "rows": report.rows(), "lanes": report.lanes()}
    return render(request, "reports/cohort.html", context, status=400 if form.errors else 200)


@requires(*REQUIRED_PERMISSIONS)
def cohort_pdf(request):
    """The whole report as a PDF for the programme's file."""
    form, report = _report(request)
    if report is None:
        return HttpResponse("Bad filter: " + form.errors.as_text(), status=400)
    body = pdf.render(_lines(report), report.rows(), filters=form.data if form.is_bound else {})
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="cohort-report.pdf"'
    return response


@requires(*REQUIRED_PERMISSIONS)
def cohort_chart(request, name: str):
    """One chart of the report as PNG (same filters as the page)."""
    if name not in charts.CHARTS:
        raise Http404("No such chart.")
    if not charts.available():
        return HttpResponse("Charts need matplotlib (see requirements.txt).", status=503)
    form, report = _report(request)
    if report is None:
        return HttpResponse("Bad filter: " + form.errors.as_text(), status=400)
    response = HttpResponse(charts.render(name, report.courses), content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response
