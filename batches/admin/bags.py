"""Storage positions, bags and their chain of custody; the batch's "Create bags" action.

Bags are made only by that action (through `services.create_bags`) and move between
positions through `services.relocate_bag` (a custody event); custody events are written
by the services and never edited here.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse

from audit.admin import AuditHistoryMixin, ReadOnlyAdmin, ReadOnlyInline, RecordServices
from batches import services
from batches.admin.bag_actions import move_bags_action, print_labels_action
from batches.admin.base import ProductionAdmin, action_page
from batches.admin.listing import QuickListing
from batches.forms import CreateBagsForm
from batches.models import Bag, BagEvent, StorageLocation
from core.exceptions import DomainError
from core.formatting import millions
from sites.admin import OwnSitesListFilter


@admin.register(StorageLocation)
class StorageLocationAdmin(ProductionAdmin):
    list_display = ["__str__", "site", "tank", "rack", "box", "position", "occupied_by"]
    list_filter = [("facility", OwnSitesListFilter), ("hospital", OwnSitesListFilter), "tank"]
    search_fields = ["tank", "rack", "box", "position", "bags__code"]
    record_fields = services.LOCATION_SITE_FIELDS + services.LOCATION_FIELDS

    def get_readonly_fields(self, request, obj=None):
        # A position's site is fixed when it is made (`services.LOCATION_SITE_FIELDS`).
        fixed = services.LOCATION_SITE_FIELDS if obj is not None else ()
        return (*super().get_readonly_fields(request, obj), *fixed)

    record_services = RecordServices(
        services,
        "create_storage_location",
        "correct_storage_location",
        "delete_storage_location",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("facility", "hospital")
            .prefetch_related("bags")
        )

    @admin.display(description="bag")
    def occupied_by(self, obj):
        bags = list(obj.bags.all())
        return bags[0].code if bags else "—"


class BagInline(ReadOnlyInline):
    """A batch's bags, on the batch's page."""

    model = Bag
    fields = ["code", "cells", "volume_ml", "location", "status"]
    readonly_fields = fields

    @admin.display(description="cells (×10⁶)")
    def cells(self, obj):
        return millions(obj.nominal_cells)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("location", "batch")


def positions_of(bags) -> str:
    """Where new bags went: "LN2-1/R1/B3 positions 1–12" (one box, consecutive free
    positions, or listed when a gap was skipped)."""
    first = bags[0].location
    numbers = [int(b.location.position) for b in bags]
    if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
        shown = f"{numbers[0]}–{numbers[-1]}" if len(numbers) > 1 else str(numbers[0])
    else:
        shown = ", ".join(map(str, numbers))
    return f"{first.tank}/{first.rack}/{first.box} position{'s' if len(bags) > 1 else ''} {shown}"


@admin.action(description="Create bags", permissions=["create_bags"])
def create_bags_action(modeladmin, request, queryset):
    """A batch action: the bag form, then `services.create_bags` for the one batch."""
    if queryset.count() != 1:
        modeladmin.message_user(
            request, "Select exactly one batch to create bags.", messages.ERROR
        )
        return None
    batch = queryset.get()
    form = CreateBagsForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        try:
            bags = services.create_bags(batch, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            modeladmin.message_user(
                request,
                f"{len(bags)} bags created for batch {batch.code}: "
                f"{bags[0].code} … {bags[-1].code}, each "
                f"{millions(bags[0].nominal_cells)} ×10⁶ cells "
                f"({bags[0].nominal_cells:,} cells) in {bags[0].volume_ml} ml, in box "
                f"{positions_of(bags)}.",
            )
            return HttpResponseRedirect(reverse("admin:batches_batch_change", args=[batch.pk]))
    return action_page(
        modeladmin,
        request,
        queryset,
        form=form,
        free_boxes=services.boxes_with_free_positions(batch.facility_id),
        action="create_bags_action",
        title=f"Create bags for batch {batch.code}",
        button="Create bags",
        template="admin/batches/batch/create_bags.html",
    )


class BagEventInline(ReadOnlyInline):
    model = BagEvent
    fields = ["occurred_at", "from_status", "to_status", "actor", "location", "note"]
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Bag)
class BagAdmin(QuickListing, ProductionAdmin):
    """A bag's page: only its storage position changes here (a custody step); its status
    moves through the services (release, allocation, thaw, …), never by hand."""

    list_display = ["code", "batch", "status", "nominal_cells", "volume_ml", "location"]
    list_filter = ["status", ("batch__facility", OwnSitesListFilter)]
    search_fields = ["code", "batch__din"]
    list_select_related = ["batch", "location"]
    # Newest first by the primary key's index: the model's order (by batch, whose own
    # order is its creation time) would sort every bag for each page.
    ordering = ["-pk"]
    readonly_fields = [
        "code",
        "batch",
        "product_code",
        "division",
        "nominal_cells",
        "volume_ml",
        "status",
        "discard_reason",
        "created_at",
    ]
    fields = [*readonly_fields[:-1], "location", "change_reason", "created_at"]
    inlines = [BagEventInline]
    actions = [move_bags_action, print_labels_action]

    def has_add_permission(self, request):
        return False  # bags are made by the batch's "Create bags" action

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.location_id is None:
            return [*self.readonly_fields, "location"]
        return self.readonly_fields

    def change_record(self, request, obj, form, reason):
        if "location" not in form.changed_data:
            return obj
        return services.relocate_bag(
            obj, form.cleaned_data["location"], actor=request.user, reason=reason
        )


@admin.register(BagEvent)
class BagEventAdmin(AuditHistoryMixin, ReadOnlyAdmin):
    list_display = ["bag", "from_status", "to_status", "occurred_at", "actor", "location"]
    list_filter = ["to_status"]
    search_fields = ["bag__code"]
    list_select_related = ["bag", "actor"]

    def get_queryset(self, request):
        return super().get_queryset(request).for_user(request.user)
