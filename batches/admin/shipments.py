"""Shipments in the admin: production creates a shipment (its bags, shipper, logger) and
dispatches it, answers the pharmacy's requests; the QP decides on the bags an excursion
quarantined (the `excursion` entry of `batches.admin.signing.DECISIONS`). Every write is
a service call; the admin shows its message."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import reverse

from audit.admin import ReadOnlyInline
from audit.models import Signature
from audit.signatures import SignatureError
from batches import services
from batches.admin.base import ProductionAdmin
from batches.admin.signing import DECISIONS, Decision
from batches.models import Shipment, ShipmentBag, ShipmentRequest
from batches.shipment_forms import DeclineRequestForm, ShipmentForm
from core.exceptions import DomainError

EXCURSION: Decision = DECISIONS["excursion"]


class ShipmentBagInline(ReadOnlyInline):
    model = ShipmentBag
    fields = ["bag", "from_location", "received_location", "open"]
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("bag", "received_location")


def _refused(modeladmin, request, code: str, error: DomainError, verb: str) -> None:
    for message in error.messages:
        modeladmin.message_user(
            request, f"Shipment {code} cannot be {verb}: {message}", messages.ERROR
        )


@admin.action(description="Dispatch (the shipper leaves now)", permissions=["change"])
def dispatch_action(modeladmin, request, queryset):
    for shipment in queryset:
        try:
            services.dispatch_shipment(shipment, actor=request.user)
        except DomainError as error:
            _refused(modeladmin, request, shipment.code, error, "dispatched")
        else:
            modeladmin.message_user(
                request,
                f"Shipment {shipment.code} dispatched to {shipment.hospital.code}: its bags "
                "are in transit.",
            )


def _decision_page(modeladmin, request, queryset, form, decision: Decision):
    rows = [
        {
            "shipment": shipment,
            "url": reverse("admin:batches_shipment_change", args=[shipment.pk]),
            "bags": [item.bag.code for item in shipment.items.all()],
        }
        for shipment in queryset
    ]
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": decision.title,
        "opts": modeladmin.model._meta,
        "rows": rows,
        "form": form,
        "adminform": admin.helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}),
        "action": decision.action,
        "button": decision.button,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        "printed_name": request.user.get_full_name(),
        "meaning": (
            f"{Signature.Meaning.RELEASED.label} (release the bags) or "
            f"{Signature.Meaning.REJECTED.label} (discard them)"
        ),
    }
    return TemplateResponse(request, "admin/batches/shipment/decide.html", context)


def decide_excursion(modeladmin, request, queryset, decision: Decision = EXCURSION):
    """The signing page of the excursion decision, then the decision per shipment."""
    queryset = queryset.prefetch_related("items__bag")
    applying = "apply" in request.POST
    form = decision.form(request.POST if applying else None, user=request.user, request=request)
    if applying and form.is_valid():
        signer = request.user.get_full_name()
        outcome = form.cleaned_data["outcome"]  # "released" or "discarded"
        for shipment in queryset:
            try:
                with transaction.atomic():
                    decision.service(shipment, actor=request.user, **form.cleaned_data)
            except DomainError as error:
                _refused(modeladmin, request, shipment.code, error, decision.verb)
                if isinstance(error, SignatureError):
                    break
            else:
                modeladmin.message_user(
                    request,
                    decision.success.format(batch=shipment.code, signer=signer, outcome=outcome),
                    decision.level,
                )
        return None
    return _decision_page(modeladmin, request, queryset, form, decision)


@admin.action(description=EXCURSION.description, permissions=["release"])
def decide_excursion_action(modeladmin, request, queryset):
    return decide_excursion(modeladmin, request, queryset)


@admin.register(Shipment)
class ShipmentAdmin(ProductionAdmin):
    """New shipments are created here; every later step is an action (dispatch, the QP's
    decision) or the pharmacy's receipt page: a stored shipment is not edited."""

    list_display = [
        "code",
        "facility",
        "hospital",
        "status",
        "logger_result",
        "decision",
        "created_at",
        "dispatched_at",
        "received_at",
    ]
    list_filter = ["status", "logger_result", "decision", "facility", "hospital"]
    search_fields = ["code", "shipper_id", "logger_id", "items__bag__code"]
    list_select_related = ["facility", "hospital"]
    actions = [dispatch_action, decide_excursion_action]
    inlines = [ShipmentBagInline]
    readonly_fields = list(Shipment.RECORD_FIELDS)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            base = super().get_form(request, obj, change=change, form=ShipmentForm, **kwargs)
            return type(base.__name__, (base,), {"__init__": _with_user(base, request.user)})
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["facility", "hospital", "bags", "shipper_id", "logger_id", "request"]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False

    def has_release_permission(self, request):
        return request.user.has_perm("batches.release_batch")

    def create_record(self, request, obj, form, reason):
        data = form.cleaned_data
        return services.create_shipment(
            facility=data["facility"],
            hospital=data["hospital"],
            bags=list(data["bags"]),
            actor=request.user,
            shipper_id=data.get("shipper_id", ""),
            logger_id=data.get("logger_id", ""),
            request=data.get("request"),
        )

    def change_record(self, request, obj, form, reason):
        return obj  # every later step is an action or the receipt page


def _with_user(form_class, user):
    def __init__(self, *args, **kwargs):
        form_class.__init__(self, *args, user=user, **kwargs)

    return __init__


@admin.action(description="Decline (with a reason)", permissions=["change"])
def decline_action(modeladmin, request, queryset):
    form = DeclineRequestForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        for shipment_request in queryset:
            try:
                services.answer_request(
                    shipment_request, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except DomainError as error:
                for message in error.messages:
                    modeladmin.message_user(request, message, messages.ERROR)
            else:
                modeladmin.message_user(
                    request, f"Request {shipment_request.audit_code} declined.", messages.WARNING
                )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Decline shipment requests",
        "opts": modeladmin.model._meta,
        "rows": [{"shipment": r} for r in queryset],
        "form": form,
        "adminform": admin.helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}),
        "action": "decline_action",
        "button": "Decline",
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/batches/shipment/decide.html", context)


@admin.register(ShipmentRequest)
class ShipmentRequestAdmin(ProductionAdmin):
    """The pharmacy's requests, for the facility's production: answered by a shipment
    (its add form names the request) or declined here. Made on the pharmacy's page."""

    list_display = [
        "audit_code",
        "hospital",
        "facility",
        "bags_wanted",
        "status",
        "requested_at",
        "requested_by",
        "shipment",
    ]
    list_filter = ["status", "facility", "hospital"]
    list_select_related = ["hospital", "facility", "requested_by", "shipment"]
    actions = [decline_action]
    readonly_fields = [
        "hospital",
        "facility",
        "bags_wanted",
        "note",
        "status",
        "requested_at",
        "requested_by",
        "answered_at",
        "answered_by",
        "shipment",
        "decline_reason",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_record(self, request, obj, form, reason):
        return obj  # answered by a shipment or the decline action, never edited
