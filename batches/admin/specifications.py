"""Release specifications and their items, written through `batches.services`. A version
a QP decision was made against is frozen here as in the model: to change a limit, make a
new version."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count

from audit.admin import AuditedInline, RecordServices, changed_values
from batches import services
from batches.admin.base import ProductionAdmin
from batches.models import AssayMethod, ReleaseSpecification, SpecificationItem
from batches.services.specifications import ITEM_FIELDS

IN_USE_MESSAGE = (
    "Specification {spec} has been used for a QP release or rejection: it is frozen. "
    "To change a limit, create a new version of the specification."
)


def save_item(request, spec, item, form_changes, reason):
    """A new item of `spec` (`add_specification_item`), or a stored one changed
    (`correct_specification_item`, which recomputes the results a new limit turns)."""
    if item.pk is None:
        fields = {name: getattr(item, name) for name in SpecificationItem.RECORD_FIELDS}
        return services.add_specification_item(spec, actor=request.user, reason=reason, **fields)
    if not form_changes:
        return item
    return services.correct_specification_item(
        item, actor=request.user, reason=reason, **form_changes
    )


def delete_item(request, item, reason):
    services.delete_specification_item(item, actor=request.user, reason=reason)


class SpecificationItemInline(AuditedInline):
    model = SpecificationItem
    fields = list(SpecificationItem.RECORD_FIELDS)

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

    def save_row(self, request, parent, obj, changed, reason):
        changes = changed_values(obj, changed, SpecificationItem.RECORD_FIELDS)
        return save_item(request, parent, obj, changes, reason)

    def delete_row(self, request, obj, reason):
        delete_item(request, obj, reason)


@admin.register(ReleaseSpecification)
class ReleaseSpecificationAdmin(ProductionAdmin):
    list_display = ["code", "version", "effective_from", "is_active", "item_count"]
    list_filter = ["is_active"]
    inlines = [SpecificationItemInline]
    record_fields = ReleaseSpecification.RECORD_FIELDS
    record_services = RecordServices(
        services, "create_specification", "correct_specification", "delete_specification"
    )

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
class SpecificationItemAdmin(ProductionAdmin):
    """Items of a version a QP decision was made against are read-only here as in the
    specification's inline (the model refuses the change too): make a new version."""

    list_display = ["parameter", "specification", "category", "criterion", "required"]
    list_filter = ["specification", "category"]
    list_select_related = ["specification"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "specification":
            # A new item goes only into a version no QP decision was made against (the
            # model refuses any other; this offers only those).
            kwargs["queryset"] = ReleaseSpecification.objects.unused()
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

    def create_record(self, request, obj, form, reason):
        return save_item(request, obj.specification, obj, {}, reason)

    def change_record(self, request, obj, form, reason):
        changes = changed_values(obj, form.changed_data, ITEM_FIELDS)
        return save_item(request, obj.specification, obj, changes, reason)

    def delete_record(self, request, obj, reason):
        delete_item(request, obj, reason)


@admin.register(AssayMethod)
class AssayMethodAdmin(ProductionAdmin):
    """The methods and instruments results come from, with their reportable ranges."""

    list_display = ["name", "unit", "reportable_range"]
    search_fields = ["name"]
    record_fields = AssayMethod.RECORD_FIELDS
    record_services = RecordServices(services, "create_assay_method", "correct_assay_method")
