"""Bulk work on the bag changelist: move the selected bags into the next free positions
of one box (`services.move_bags`), and print their labels (one PDF, drawn by the labels
app at `labels:bags`: batches may not import labels, so the action sends the browser
there with the selected bags)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from batches import services
from batches.models import StorageLocation
from core.exceptions import DomainError

BOX_SEPARATOR = "|"
# The most labels `labels:bags` draws in one PDF (its `MAX_SELECTED_BAGS`).
MAX_LABELS = 500


def box_choices(user) -> list[tuple[str, str]]:
    """The facility boxes the user may see, with their free positions (one query)."""
    rows = (
        StorageLocation.objects.for_user(user)
        .filter(facility__isnull=False)
        .values("facility_id", "facility__fin", "tank", "rack", "box")
        .annotate(occupied=Count("bags", distinct=True))
        .order_by("facility__fin", "tank", "rack", "box")
    )
    return [
        (
            BOX_SEPARATOR.join((str(r["facility_id"]), r["tank"], r["rack"], r["box"])),
            f"{r['facility__fin']} {r['tank']}/{r['rack']}/{r['box']} "
            f"({services.BOX_POSITIONS - r['occupied']} free)",
        )
        for r in rows
    ]


class MoveBagsForm(forms.Form):
    box = forms.ChoiceField(label="Destination box")
    start = forms.IntegerField(
        label="From position",
        min_value=1,
        max_value=services.BOX_POSITIONS,
        initial=1,
        help_text="The bags take the next free positions from this one on, in code order.",
    )
    change_reason = forms.CharField(
        label="Reason for the move",
        required=False,
        help_text="Recorded on each bag's audit event and custody event.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["box"].choices = [("", "---------"), *box_choices(user)]

    def clean_box(self):
        facility_id, tank, rack, box = self.cleaned_data["box"].split(BOX_SEPARATOR, 3)
        return {"facility_id": int(facility_id), "tank": tank, "rack": rack, "box": box}


@admin.action(description="Move to another box", permissions=["change"])
def move_bags_action(modeladmin, request, queryset):
    """The destination box and first position, then `services.move_bags` for them all."""
    bags = list(queryset.select_related("location").order_by("code"))
    form = MoveBagsForm(request.POST if "apply" in request.POST else None, user=request.user)
    if "apply" in request.POST and form.is_valid():
        data = form.cleaned_data
        try:
            moved = services.move_bags(
                bags,
                **data["box"],
                start=data["start"],
                actor=request.user,
                reason=data["change_reason"],
            )
        except DomainError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            where = ", ".join(f"{b.code} → {b.location}" for b in moved)
            modeladmin.message_user(request, f"{len(moved)} bag(s) moved: {where}.")
            return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"Move {len(bags)} bag(s) to another box",
        "opts": modeladmin.model._meta,
        "bags": bags,
        "form": form,
        "adminform": admin.helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}),
        "action": "move_bags_action",
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/batches/bag/move_bags.html", context)


@admin.action(description="Print labels (one PDF)", permissions=["view"])
def print_labels_action(modeladmin, request, queryset):
    """One PDF of the selected bags' labels: the labels app's `labels:bags` draws it
    (and scopes it again to the user's sites)."""
    pks = list(queryset.order_by("code").values_list("pk", flat=True))
    if not pks:
        modeladmin.message_user(request, "Select the bags to label.", messages.ERROR)
        return None
    if len(pks) > MAX_LABELS:
        modeladmin.message_user(
            request, f"Print at most {MAX_LABELS} labels at a time.", messages.ERROR
        )
        return None
    ids = ",".join(map(str, pks))
    return HttpResponseRedirect(reverse("labels:bags", kwargs={"ids": ids}))
