"""The cohort report page, /reports/cohort/ (and its PDF): thin, over `reports.report`."""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import get_conditional_response

from core.views import requires
from reports import charts, pdf
from reports.report import REQUIRED_PERMISSIONS, CohortFilter, build, courses_for, flat
from sites.scope import site_scope

# The page lists this many patients (every row is in the CSV of the API).
PAGE_ROWS = 200
# A rendered chart is kept this long in the cache (its key changes with its data anyway).
CHART_CACHE_SECONDS = 24 * 3600
# Bump when the drawing code changes, so no PNG drawn by older code is served.
CHART_RENDERING = "2"


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
        context |= {
            "lines": _lines(report),
            "rows": report.rows(PAGE_ROWS),
            "rows_total": len(report.courses),
            "lanes": report.lanes(),
            "lanes_caption": charts.first_lanes(report.courses)[2],
        }
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
    form = CohortFilter(request.GET or None)
    if form.is_bound and not form.is_valid():
        return HttpResponse("Bad filter: " + form.errors.as_text(), status=400)
    filters = form.cleaned_data if form.is_bound else {}
    data = charts.chart_data(name, courses_for(request.user, filters))
    digest = chart_digest(request.user, name, filters, data)
    etag = f'"{digest}"'
    not_modified = get_conditional_response(request, etag=etag)
    if not_modified is not None:  # the browser has this very chart
        return _private(not_modified, etag)
    key = f"reports:chart:{digest}"
    png = cache.get(key)
    if png is None:
        from reports import plots

        png = plots.render(name, data)
        cache.set(key, png, CHART_CACHE_SECONDS)
    return _private(HttpResponse(png, content_type="image/png"), etag)


def chart_digest(user, name: str, filters: dict, data) -> str:
    """The name of one rendered chart: a hash of what it draws (its data), the filters,
    the reader's time zone and the reader's scope, so that a chart cached for one
    hospital's reader is never served to another's, even were their data alike."""
    scope = site_scope(user)
    scoped = (
        "network"
        if scope.network_wide
        else (sorted(scope.facility_ids), sorted(scope.hospital_ids))
    )
    chosen = sorted((key, str(value)) for key, value in filters.items() if value)
    text = repr(
        (CHART_RENDERING, name, scoped, chosen, timezone.get_current_timezone_name(), data)
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _private(response, etag: str):
    # Named by its data (If-None-Match → 304): a new record changes the chart's data and
    # so its ETag. The browser is still told not to store it (`no-store`, the security
    # middleware): the chart shows patient codes, and ward computers are shared.
    response["ETag"] = etag
    return response
