"""What the pharmacy and ward worklists share: search, paging, and the rows of one page.

The lists are filtered, ordered and paged in SQL (`dosing.worklists`); the rows of the
page shown — and only those — are then loaded with what they display (a fixed number of
queries), and eligibility and the next step are evaluated for them.
"""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone

from batches.picking import pick_list
from core import notices
from core.paginators import ShortListPaginator
from dosing import rules
from dosing.models import Dose, Protocol
from dosing.views.steps import next_step
from dosing.worklists import page_rows_prefetch
from patients.eligibility import evaluate_eligibility
from patients.models import Patient

S = Dose.Status
PER_PAGE = 25


def search_term(request) -> str:
    return " ".join(request.GET.get("q", "").split()).upper()[:40]


def search(patients, term: str):
    return patients.filter(code__icontains=term) if term else patients


def page_of(queryset, request, param: str):
    """One page of `queryset`, from `?<param>=`: a slice, and a COUNT only when the list
    is longer than its first page (`core.paginators.ShortListPaginator`)."""
    return ShortListPaginator(queryset, PER_PAGE).get_page(request.GET.get(param))


class UncountedPage:
    """One page of a list that is not counted (the finished patients: at a network's size
    nearly all of them, and counting them would evaluate every one): the slice fetches
    one row more than the page, which tells whether there is a next page. Shown as
    "Page n" with Previous and Next (`dosing/_pager.html`), without a number of pages."""

    paginator = None  # no count, no number of pages

    def __init__(self, queryset, number, per_page: int = PER_PAGE):
        try:
            number = max(1, int(number))
        except (TypeError, ValueError):
            number = 1
        start = (number - 1) * per_page
        rows = list(queryset[start : start + per_page + 1])
        self.number = number
        self.object_list = rows[:per_page]
        self._more = len(rows) > per_page

    def has_next(self) -> bool:
        return self._more

    def has_previous(self) -> bool:
        return self.number > 1

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1


def active_protocol():
    return Protocol.objects.filter(active=True).order_by("-version").first()


def open_dose(doses: list[Dose]) -> Dose | None:
    live = [d for d in doses if d.is_live and d.status != S.INFUSED]
    return live[-1] if live else None


def _bags_to_pick(dose: Dose | None):
    if dose is None or dose.status not in (S.ALLOCATED, S.ORDERED):
        return []
    return pick_list([link.bag for link in dose.dose_bags.all()])


def _window(doses: list[Dose], protocol):
    infused = [d for d in doses if d.status == S.INFUSED]
    if not infused:
        return None
    return rules.interval_window(infused[-1], infused[-1].protocol or protocol)


def to_do_rows(patients: list, user, *, now) -> list[dict]:
    """The rows of one page of patients with something to do."""
    page_rows_prefetch(patients)
    protocol = active_protocol()
    today = timezone.localdate(now)
    rows = []
    for patient in patients:
        doses = list(patient.doses.all())
        dose = open_dose(doses)
        eligibility = evaluate_eligibility(patient, on=today)
        rows.append(
            {
                "patient": patient,
                "doses": doses,
                "dose": dose,
                "deadline": patient.deadline,
                "overdue": patient.deadline is not None and patient.deadline < now,
                "window": None if dose else _window(doses, protocol),
                "picks": _bags_to_pick(dose),
                "eligible": eligibility.is_eligible,
                "open_adverse_events": patient.open_adverse_events,
                "step": next_step(patient, doses, eligibility.is_eligible, protocol, user),
            }
        )
    return rows


def finished_reason(patient, now) -> str:
    """Why a finished patient has nothing more to do, from the list's annotations."""
    outcomes = [o.get_kind_display().lower() for o in patient.outcomes.all()]
    if patient.ended and outcomes:
        return ", ".join(dict.fromkeys(outcomes)).capitalize()
    if patient.live_doses >= patient.course_max:
        return f"All {patient.course_max} doses given"
    closed = timezone.localtime(patient.window_closes_at).strftime("%Y-%m-%d %H:%M")
    return f"Window for dose {patient.live_doses + 1} closed {closed}"


def finished_rows(patients: list, *, now) -> list[dict]:
    from django.db.models import prefetch_related_objects

    prefetch_related_objects(patients, "outcomes")
    return [
        {"patient": p, "doses_given": p.live_doses, "reason": finished_reason(p, now)}
        for p in patients
    ]


def notice_sections(worklist: str, user, now):
    return notices.notices_for(worklist, user, now=now)


def render_worklist(request, *, to_do, finished, template: str, section: str):
    """One worklist page (pharmacy or ward): the user's patients matching the search, the
    ones with something to do (`to_do(patients, now=)`, paged as `page`) and the finished
    ones (`finished(patients, now=)`, paged as `done`, not counted), with the section's notices."""
    now = timezone.now()
    term = search_term(request)
    patients = search(Patient.objects.for_user(request.user).select_related("hospital"), term)
    todo = page_of(to_do(patients, now=now), request, "page")
    done = UncountedPage(finished(patients, now=now), request.GET.get("done"))
    return render(
        request,
        template,
        {
            "q": term,
            "todo": todo,
            "rows": to_do_rows(list(todo.object_list), request.user, now=now),
            "done": done,
            "finished": finished_rows(list(done.object_list), now=now),
            "notice_sections": notice_sections(section, request.user, now),
            "now": now,
        },
    )
