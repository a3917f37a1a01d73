"""Release specifications and their items. A version a QP decision was made against
is frozen here as in the model: to change a limit, make a new version."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count

from batches.admin.base import AuditedAdmin
from batches.models import Batch, ReleaseSpecification, SpecificationItem, decided_batches

IN_USE_MESSAGE = (
    "Specification {spec} has been used for a QP release or rejection: it is frozen. "
    "To change a limit, create a new version of the specification."
)


class SpecificationItemInline(admin.TabularInline):
    model = SpecificationItem
    extra = 0
    fields = [
        "category",
        "parameter",
        "kind",
        "lower_limit",
        "upper_limit",
        "expected_result",
        "unit",
        "required",
    ]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_in_use():
            return False  # a version used for a decision is frozen: make a new version
        return super().has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        if obj is not None and obj.is_in_use():
            return False
        return super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_in_use():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(ReleaseSpecification)
class ReleaseSpecificationAdmin(AuditedAdmin):
    list_display = ["code", "version", "effective_from", "is_active", "item_count"]
    list_filter = ["is_active"]
    inlines = [SpecificationItemInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_total=Count("items"))

    @admin.display(description="items", ordering="item_total")
    def item_count(self, obj):
        return obj.item_total

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if request.method == "GET" and obj is not None and obj.is_in_use():
            self.message_user(request, IN_USE_MESSAGE.format(spec=obj), messages.INFO)
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(SpecificationItem)
class SpecificationItemAdmin(AuditedAdmin):
    """Items of a version a QP decision was made against are read-only here as in the
    specification's inline (the model refuses the change too): make a new version."""

    list_display = ["parameter", "specification", "category", "criterion", "required"]
    list_filter = ["specification", "category"]
    list_select_related = ["specification"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "specification":
            # A new item goes only into a version no QP decision was made against.
            used = decided_batches(Batch.objects.all()).values("specification_id")
            kwargs["queryset"] = ReleaseSpecification.objects.exclude(pk__in=used)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.specification.is_in_use():
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.specification.is_in_use():
            return False
        return super().has_delete_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if request.method == "GET" and obj is not None and obj.specification.is_in_use():
            self.message_user(
                request, IN_USE_MESSAGE.format(spec=obj.specification), messages.INFO
            )
        return super().change_view(request, object_id, form_url, extra_context)
