"""A batch's release checks as one grid: every item of its specification version as a
row, results typed in place, one save through `services.record_results`.

The pass/fail beside each field while typing comes from the server (`evaluate_view`,
called by the static `batches/check_grid.js`), which asks `rules.evaluate_check` — the
function the check itself uses when saved. No limit is copied into the page's script.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from batches import services
from batches.models import ReleaseCheck, SpecificationItem
from batches.rules import evaluate_check
from core.exceptions import DomainError
from core.widgets import IsoDateInput

PASS, FAIL, EMPTY = "pass", "fail", ""


def verdict(item: SpecificationItem, raw: str) -> str:
    """ "pass", "fail", or "" (nothing typed, or not a number where one is needed)."""
    if not (raw or "").strip():
        return EMPTY
    try:
        value, text = services.value_of(item, raw)
    except DomainError:
        return EMPTY
    return PASS if evaluate_check(item, value, text) else FAIL


def stored_raw(check: ReleaseCheck | None) -> str:
    if check is None:
        return ""
    if check.result_value is not None:
        return f"{check.result_value.normalize():f}"
    return check.result_text


class CheckGridForm(forms.Form):
    """One result and one date field per specification item, and one reason."""

    change_reason = forms.CharField(
        label="Reason for change",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=(
            "Needed when a result changes a stored one (a correction), and for every "
            "result once a QP has decided on the batch. Recorded on the audit trail."
        ),
    )

    def __init__(self, *args, items, stored, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = items
        self.stored = stored
        today = timezone.localdate()
        for item in items:
            check = stored.get(item.pk)
            self.fields[f"result_{item.pk}"] = forms.CharField(
                label=item.parameter,
                required=False,
                initial=stored_raw(check),
                widget=forms.TextInput(
                    attrs={
                        "size": 12,
                        "class": "check-result",
                        "data-item": item.pk,
                        "inputmode": "text" if item.kind == item.Kind.EXPECTED else "decimal",
                    }
                ),
            )
            self.fields[f"tested_on_{item.pk}"] = forms.DateField(
                label=f"{item.parameter}: date measured",
                required=False,
                initial=check.tested_on if check else today,
                widget=IsoDateInput(),
            )

    def clean(self):
        cleaned = super().clean()
        results = []
        for item in self.items:
            raw = (cleaned.get(f"result_{item.pk}") or "").strip()
            if not raw:
                if item.pk in self.stored:
                    self.add_error(
                        f"result_{item.pk}",
                        "A recorded result cannot be emptied here: correct its value.",
                    )
                continue
            try:
                value, text = services.value_of(item, raw)
            except DomainError as error:
                self.add_error(f"result_{item.pk}", error.messages[0])
                continue
            tested_on = cleaned.get(f"tested_on_{item.pk}")
            if tested_on is None:
                if f"tested_on_{item.pk}" not in self.errors:
                    self.add_error(f"tested_on_{item.pk}", "Enter the date measured.")
                continue
            results.append(services.Result(item, value, text, tested_on))
        cleaned["results"] = results
        return cleaned

    def rows(self):
        """What the template shows per item: the item, its field, date, stored check."""
        for item in self.items:
            field = self[f"result_{item.pk}"]
            yield {
                "item": item,
                "field": field,
                "date": self[f"tested_on_{item.pk}"],
                "check": self.stored.get(item.pk),
                "verdict": verdict(item, field.value() or ""),
            }


class CheckGridAdmin:
    """The grid's pages on the batch admin: `<id>/checks/` and `<id>/checks/evaluate/`."""

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        own = [
            path(
                "<path:object_id>/checks/",
                self.admin_site.admin_view(self.check_grid_view),
                name=f"{info[0]}_{info[1]}_checks",
            ),
            path(
                "<path:object_id>/checks/evaluate/",
                self.admin_site.admin_view(self.evaluate_view),
                name=f"{info[0]}_{info[1]}_checks_evaluate",
            ),
        ]
        return own + super().get_urls()

    def _grid_batch(self, request, object_id):
        batch = self.get_object(request, object_id)  # scoped: another site's is None
        if batch is None:
            raise Http404("No batch with this id.")
        return batch

    def _may_record(self, request) -> bool:
        return request.user.has_perm("batches.add_releasecheck") and request.user.has_perm(
            "batches.change_releasecheck"
        )

    def evaluate_view(self, request, object_id):
        """{"verdict": "pass"|"fail"|""} of a typed result, by the check's own rule."""
        batch = self._grid_batch(request, object_id)
        if not request.user.has_perm("batches.view_releasecheck"):
            raise PermissionDenied
        item_id = request.GET.get("item", "")
        if not item_id.isdigit():
            raise Http404("No such item.")
        item = get_object_or_404(
            SpecificationItem, pk=int(item_id), specification=batch.specification
        )
        return JsonResponse({"verdict": verdict(item, request.GET.get("value", ""))})

    def check_grid_view(self, request, object_id):
        batch = self._grid_batch(request, object_id)
        if not self._may_record(request):
            raise PermissionDenied
        items = list(batch.specification.items.order_by("category", "parameter"))
        stored = {c.item_id: c for c in batch.checks.all()}
        data = request.POST if request.method == "POST" else None
        form = CheckGridForm(data, items=items, stored=stored)
        if data is not None and form.is_valid():
            try:
                saved = services.record_results(
                    batch,
                    form.cleaned_data["results"],
                    actor=request.user,
                    reason=form.cleaned_data["change_reason"],
                )
            except DomainError as error:
                for message in error.messages:
                    form.add_error(None, message)
            else:
                self.message_user(request, f"Batch {batch.code}: {len(saved)} result(s) recorded.")
                for check in saved:
                    self.after_write(request, check)
                return HttpResponseRedirect(reverse("admin:batches_batch_change", args=[batch.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Release checks of batch {batch.code}",
            "subtitle": None,
            "opts": self.opts,
            "original": batch,
            "batch": batch,
            "form": form,
            "rows": list(form.rows()),
            "evaluate_url": reverse("admin:batches_batch_checks_evaluate", args=[batch.pk]),
            "change_url": reverse("admin:batches_batch_change", args=[batch.pk]),
            "reason_needed": batch.reason_required({"status": batch.status}),
        }
        return TemplateResponse(request, "admin/batches/batch/check_grid.html", context)
