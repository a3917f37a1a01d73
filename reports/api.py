"""The cohort report through the API: /api/v1/reports/cohort/ (the figures) and
/api/v1/reports/cohort/patients/ (the per-patient rows they are computed from, JSON or
`?format=csv`). Scoped like every collection: the reader's sites only."""

from __future__ import annotations

import csv
import io

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.permissions import HasViewPermissions
from reports import cohort
from reports.report import REQUIRED_PERMISSIONS, CohortFilter, build, cached_figures

FILTER_PARAMETERS = [
    OpenApiParameter("hospital", str, description="Hospital code, e.g. HUS."),
    OpenApiParameter("protocol", str, description="Protocol code of dose 1."),
    OpenApiParameter("since", OpenApiTypes.DATE, description="Dose 1 on or after this date."),
    OpenApiParameter("until", OpenApiTypes.DATE, description="Dose 1 on or before this date."),
]


def _int(text: str) -> serializers.IntegerField:
    return serializers.IntegerField(help_text=text)


class SummarySerializer(serializers.Serializer):
    median = serializers.FloatField(allow_null=True, help_text="Median (SPSS, at (n+1)/2).")
    q1 = serializers.FloatField(allow_null=True, help_text="SPSS: weighted average at (n+1)/4.")
    q3 = serializers.FloatField(allow_null=True, help_text="SPSS: weighted average at 3(n+1)/4.")
    iqr = serializers.FloatField(allow_null=True, help_text="q3 − q1.")
    n = _int("How many values the summary is of.")


class LabSerializer(serializers.Serializer):
    expected = serializers.ChoiceField(
        choices=["decrease", "increase"], help_text="The change expected of an improved patient."
    )
    as_expected = _int("Evaluable improved patients whose day-5 value changed as expected.")
    evaluable = _int("Improved patients with a value before dose 1 and on day 5.")


def _counts(name: str, keys, what: str, **kwargs) -> serializers.Serializer:
    fields = {key: _int(f"{what}: {key}.") for key in keys}
    return inline_serializer(name, fields, **kwargs)


def _summary(text: str) -> SummarySerializer:
    return SummarySerializer(help_text=text)


CohortSerializer = inline_serializer(
    "CohortReport",
    {
        "patients_treated": _int("Patients given at least one dose."),
        "donors": _int("Donors whose cells were given."),
        "doses": _int("Doses infused."),
        "doses_per_patient": _counts(
            "DosesPerPatient",
            ["1", "2", "3"],
            "Patients with this many doses",
            help_text="Patients by number of doses.",
        ),  # fmt: skip
        "preparation": _counts(
            "PreparationCounts",
            ["thawed", "refreshed"],
            "Patients whose dose 1 was",
            help_text="Patients by the preparation of dose 1.",
        ),  # fmt: skip
        "cells_per_kg_per_dose": _summary("Cells per kg of every dose (in cells)."),
        "days_dose1_to_dose2": _summary("Days from dose 1 to dose 2, as decimals."),
        "days_ventilation_to_dose1": inline_serializer(
            "VentilationToDose1",
            {
                "all": _summary("Every treated patient."),
                "extubated": _summary("Patients extubated."),
                "not_extubated": _summary("Patients not extubated."),
            },
            help_text="Days from the start of invasive ventilation to dose 1.",
        ),
        "follow_up_days": _summary("Days from dose 1 to the end of follow-up."),
        "outcomes": _counts(
            "CohortOutcomes",
            ["improved", "extubated", "icu_discharged", "died", "still_ventilated", "ecmo"],
            "Patients",
            help_text="Patients by outcome (improved: the paper's clinical improvement).",
        ),
        "adverse_events_by_causality": _counts(
            "AdverseEventsByCausality",
            cohort.CAUSALITIES,
            "Adverse events judged",
            help_text="Adverse events by WHO-UMC causality.",
        ),  # fmt: skip
        "related_adverse_events": _int("Adverse events judged possible or stronger."),
        "lab_day5": inline_serializer(
            "LabDay5",
            {kind: LabSerializer(help_text=f"{kind} on day 5.") for kind in cohort.LAB_EXPECTED},
            help_text="Day-5 laboratory change among improved patients.",
        ),
        "published": serializers.DictField(
            child=inline_serializer(
                "PublishedFigure",
                {
                    "value": serializers.FloatField(help_text="The published figure."),
                    "as_published": serializers.CharField(help_text="As printed."),
                    "source": serializers.CharField(help_text="Citation with DOI."),
                },
            ),
            help_text="The published figures of the cohort's protocol, by JSON path of the "
            "figure (empty unless every patient's dose 1 used one such protocol).",
        ),
    },
)

PatientRowSerializer = inline_serializer(
    "CohortPatientRow",
    {
        "patient": serializers.CharField(help_text="Pseudonymised patient code."),
        "hospital": serializers.CharField(help_text="Hospital site code."),
        "protocol": serializers.CharField(help_text="Protocol code of dose 1."),
        "protocol_versions": serializers.ListField(
            child=serializers.IntegerField(), help_text="Protocol versions the doses used."
        ),
        "doses": _int("Doses infused."),
        "batches": serializers.ListField(
            child=serializers.CharField(), help_text="Batches the doses came from."
        ),
        "preparation": serializers.CharField(help_text="thawed or refreshed (dose 1)."),
        "dose1_at": serializers.DateTimeField(help_text="Start of the infusion of dose 1."),
        "cells_per_kg": serializers.ListField(
            child=serializers.FloatField(allow_null=True), help_text="Cells/kg of each dose."
        ),
        "days_dose1_to_dose2": serializers.FloatField(
            allow_null=True, help_text="Days from dose 1 to dose 2."
        ),
        "days_ventilation_to_dose1": serializers.FloatField(
            allow_null=True, help_text="Days from the start of invasive ventilation to dose 1."
        ),
        "follow_up_days": serializers.IntegerField(
            allow_null=True, help_text="Days from dose 1 to the end of follow-up."
        ),
        "extubated": serializers.BooleanField(help_text="An extubation is recorded."),
        "icu_discharged": serializers.BooleanField(help_text="An ICU discharge is recorded."),
        "died": serializers.BooleanField(help_text="A death is recorded."),
        "ecmo": serializers.BooleanField(help_text="A period of ECMO is recorded."),
        "improved": serializers.BooleanField(help_text="Clinical improvement (the paper's)."),
        "improvement_criteria": serializers.ListField(
            child=serializers.CharField(),
            help_text="Criteria met: extubation, icu_discharge, radiographic, who_scale.",
        ),
        "lab_excluded": serializers.CharField(help_text="Why out of the day-5 labs, or ''."),
        "lab_day5": serializers.DictField(
            child=serializers.BooleanField(allow_null=True),
            help_text="Per lab value: changed as expected on day 5 (null: not evaluable).",
        ),
        "related_adverse_events": _int("Adverse events judged possible or stronger."),
    },
    many=True,
)


class RowsCSVRenderer(BaseRenderer):
    """`?format=csv`: one line per patient; lists joined by '; ', the day-5 labs as
    columns of their own."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out)
        if isinstance(data, list):
            labs = list(cohort.LAB_EXPECTED)
            header = [k for k in (data[0] if data else {}) if k != "lab_day5"]
            if not data:
                header = ["patient"]
            writer.writerow([*header, *(f"lab_day5.{k}" for k in labs)])
            for row in data:
                cells = [_cell(row[k]) for k in header]
                writer.writerow([*cells, *(_cell(row["lab_day5"][k]) for k in labs)])
        else:  # an error body
            for key, value in data.items():
                writer.writerow([key, _cell(value)])
        return out.getvalue().encode(self.charset)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return value


class _CohortView(APIView):
    permission_classes = [HasViewPermissions]
    required_permissions = REQUIRED_PERMISSIONS

    def filters(self, request) -> dict:
        form = CohortFilter(request.query_params)
        if not form.is_valid():
            raise ValidationError(form.errors)
        return form.cleaned_data

    def report(self, request):
        return build(request.user, self.filters(request))


class CohortReportView(_CohortView):
    """The cohort's figures, computed from the record once per change of it
    (`reports.report.cached_figures`)."""

    renderer_classes = [JSONRenderer]

    @extend_schema(parameters=FILTER_PARAMETERS, responses=CohortSerializer)
    def get(self, request):
        return Response(cached_figures(request.user, self.filters(request)))


class CohortPatientsView(_CohortView):
    """The per-patient rows every figure is computed from (`?format=csv` for a table)."""

    renderer_classes = [JSONRenderer, RowsCSVRenderer]

    @extend_schema(parameters=FILTER_PARAMETERS, responses=PatientRowSerializer)
    def get(self, request):
        return Response(self.report(request).rows())
