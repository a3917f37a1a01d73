"""The report's charts rendered as PNG with matplotlib, from the data of `reports.charts`.

Fast at any cohort: the Agg backend is chosen once, at import; each chart is a bare
`Figure` (never pyplot's registry of open figures, so nothing outlives the request);
and each kind of mark is one collection (a `PolyCollection` of every support period, a
`LineCollection` of every arrow's shaft, one scatter of its heads, one of each outcome),
not one artist per patient — drawing cost follows the number of artists far more than
the number of points. Import only when `charts.available()`.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reports import charts, cohort  # noqa: E402

SUPPORT_COLOURS = {cohort.IMV: "#4a78b5", cohort.ECMO: "#c0392b"}
SUPPORT_ALPHA = {cohort.IMV: 0.6, cohort.ECMO: 0.9}
OUTCOME_MARKERS = {
    cohort.EXTUBATION: ("o", "#2e8b57", "extubation"),
    cohort.ICU_DISCHARGE: ("s", "#2e8b57", "ICU discharge"),
    cohort.DEATH: ("X", "#000000", "death"),
}
DOSE_COLOUR = "#e67e22"


def render(name: str, data) -> bytes:
    """One chart as PNG bytes from `charts.chart_data(name, …)`; `name` is in CHARTS."""
    return {"swimlanes": _swimlanes, "labs": _labs, "cells": _cells}[name](data)


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    # Fixed margins, not `bbox_inches="tight"`, which draws the whole figure twice.
    figure.savefig(out, format="png")
    figure.clear()
    return out.getvalue()


def _swimlanes(data: charts.SwimlaneData) -> bytes:
    lanes = data.lanes
    height = 0.3 * max(len(lanes), 1) + 1.5
    figure = Figure(figsize=(10, height), dpi=100)
    figure.subplots_adjust(left=0.12, right=0.98, top=1 - 0.75 / height, bottom=0.5 / height)
    axes = figure.subplots()
    for kind, colour in SUPPORT_COLOURS.items():
        boxes = [
            [(start, y - 0.25), (stop, y - 0.25), (stop, y + 0.25), (start, y + 0.25)]
            for y, lane in enumerate(lanes)
            for k, start, stop in lane.supports
            if k == kind
        ]
        if boxes:
            axes.add_collection(
                PolyCollection(boxes, facecolors=colour, alpha=SUPPORT_ALPHA[kind], linewidths=0)
            )
    doses = [(day, y) for y, lane in enumerate(lanes) for day in lane.doses]
    if doses:
        axes.add_collection(
            LineCollection(
                [[(x, y - 0.75), (x, y - 0.3)] for x, y in doses], colors=DOSE_COLOUR, linewidths=1
            )
        )
        axes.scatter([x for x, _ in doses], [y - 0.3 for _, y in doses], marker="v", s=30,
                     color=DOSE_COLOUR, zorder=3, label="dose")  # fmt: skip
    for kind, (marker, colour, label) in OUTCOME_MARKERS.items():
        points = [
            (day, y) for y, lane in enumerate(lanes) for k, day in lane.outcomes if k == kind
        ]
        if points:
            axes.scatter([x for x, _ in points], [y for _, y in points], marker=marker, s=45,
                         color=colour, zorder=4, label=label)  # fmt: skip
    axes.scatter([lane.end for lane in lanes], range(len(lanes)), marker="|", s=140,
                 color="#555555", zorder=2)  # fmt: skip
    axes.set_yticks(range(len(lanes)), [lane.patient for lane in lanes])
    axes.set_ylim(len(lanes) - 0.5 if lanes else 0.5, -1)
    axes.autoscale(axis="x")
    axes.axvline(0, color="#999999", linewidth=0.8)
    axes.set_xlabel("days from dose 1")
    axes.set_title(f"{data.caption}\nDoses (arrows), ventilation (blue), ECMO (red), outcome")
    if lanes:
        axes.legend(loc="lower right", fontsize="small")
    return _png(figure)


def _labs(data: dict[str, list[tuple[str, float, float]]]) -> bytes:
    figure = Figure(figsize=(12, 6), dpi=100)
    figure.subplots_adjust(left=0.06, right=0.98, top=0.94, bottom=0.06, hspace=0.3, wspace=0.25)
    panels = figure.subplots(2, 3).flatten()
    for axes, (kind, rows) in zip(panels, data.items(), strict=True):
        if rows:
            axes.add_collection(
                LineCollection(
                    [[(0, before), (1, after)] for _, before, after in rows],
                    colors="#4a78b5",
                    linewidths=1,
                    alpha=0.7,
                )  # fmt: skip
            )
            axes.scatter([0] * len(rows) + [1] * len(rows),
                         [b for _, b, _ in rows] + [a for _, _, a in rows], s=12,
                         color="#4a78b5")  # fmt: skip
        axes.set_xlim(-0.2, 1.2)
        axes.set_xticks([0, 1], ["before", "day 5"])
        axes.set_title(f"{kind} (n={len(rows)})")
    return _png(figure)


def _cells(data: charts.CellsData) -> bytes:
    figure = Figure(figsize=(10, 4), dpi=100)
    figure.subplots_adjust(left=0.08, right=0.98, top=0.95, bottom=0.25)
    axes = figure.subplots()
    index = {patient: x for x, patient in enumerate(data.patients)}
    for number in sorted({n for _, n, _ in data.points}):
        chosen = [(index[p], v) for p, n, v in data.points if n == number]
        axes.scatter([x for x, _ in chosen], [v for _, v in chosen], s=14, label=f"dose {number}")
    if len(data.patients) <= charts.SWIMLANE_LIMIT:
        axes.set_xticks(range(len(data.patients)), data.patients, rotation=60)
    else:  # thousands of codes are unreadable: the patients' order is stated instead
        axes.set_xlabel(f"{len(data.patients)} patients, in order of dose 1")
    axes.set_ylabel("cells/kg (×10⁶)")
    if data.points:
        axes.legend()
    return _png(figure)
