"""The pharmacy's shipments under /pharmacy/shipments/: what is on its way to the
user's hospitals, the receipt of one (logger result, storage box), and a request to a
facility for stock. Thin views: a form, a service of `batches.services`, its message."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from batches import services
from batches.models import Shipment, ShipmentBag, ShipmentRequest
from batches.shipment_forms import ReceiveShipmentForm, ShipmentRequestForm
from core.exceptions import DomainError
from core.forms import show_refusal
from core.views import requires
from dosing.views.common import local_input
from sites.models import Facility, Hospital
from sites.scope import site_scope

RECEIVE = "batches.receive_shipment"
REQUEST = "batches.request_shipment"
RECENT = 20


def _shipments(user):
    return (
        Shipment.objects.for_user(user)
        .select_related("facility", "hospital", "received_by")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=ShipmentBag.objects.select_related("bag", "received_location").order_by(
                    "bag__code"
                ),
            )
        )
    )


def _my_hospitals(user):
    scope = site_scope(user)
    hospitals = Hospital.objects.order_by("code")
    return hospitals if scope.network_wide else hospitals.filter(pk__in=scope.hospital_ids)


@requires(RECEIVE)
def shipment_list(request):
    """Shipments dispatched to the user's hospitals (to receive), the latest received,
    and the user's hospitals' open requests."""
    shipments = _shipments(request.user).filter(hospital__in=_my_hospitals(request.user))
    context = {
        "incoming": shipments.filter(status=Shipment.Status.DISPATCHED).order_by("dispatched_at"),
        "received": shipments.filter(status=Shipment.Status.RECEIVED).order_by("-received_at")[
            :RECENT
        ],
        "requests": ShipmentRequest.objects.for_user(request.user)
        .select_related("facility", "hospital", "shipment")
        .order_by("-requested_at")[:RECENT],
        "no_site": not _my_hospitals(request.user).exists(),
    }
    return render(request, "dosing/shipments.html", context)


@requires(RECEIVE)
def shipment_receive(request, code: str):
    shipment = get_object_or_404(_shipments(request.user), code=code)
    if shipment.status != Shipment.Status.DISPATCHED:
        messages.info(
            request, f"Shipment {shipment.code} is {shipment.get_status_display().lower()}."
        )
        return redirect("dosing:shipment-list")
    if request.method == "POST":
        form = ReceiveShipmentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.receive_shipment(
                    shipment,
                    actor=request.user,
                    logger_result=data["logger_result"],
                    tank=data["tank"],
                    rack=data["rack"],
                    box=data["box"],
                    note=data["note"],
                    at=data["received_at"],
                )
            except DomainError as error:
                show_refusal(error, [form], aliases={"at": "received_at"})
            else:
                if data["logger_result"] == Shipment.LoggerResult.EXCURSION:
                    messages.warning(
                        request,
                        f"Shipment {shipment.code} received with a temperature excursion: its "
                        f"bags are in quarantine until the QP of {shipment.facility.fin} decides.",
                    )
                else:
                    messages.success(
                        request,
                        f"Shipment {shipment.code} received: {len(shipment.items.all())} bags "
                        "available at the pharmacy.",
                    )
                return redirect("dosing:shipment-list")
    else:
        form = ReceiveShipmentForm(initial={"received_at": local_input(timezone.now())})
    return render(request, "dosing/shipment_receive.html", {"shipment": shipment, "form": form})


@requires(REQUEST)
def shipment_request(request):
    """Ask a facility for bags, for one of the user's hospitals (the one of `?hospital=`,
    the patient's, when the request comes from a patient's calculation): the request
    appears on the facility's production list."""
    hospitals = _my_hospitals(request.user)
    form = ShipmentRequestForm(
        request.POST if request.method == "POST" else None,
        facilities=Facility.objects.order_by("fin"),
        hospitals=hospitals,
        initial={"facility": request.GET.get("facility"), "hospital": request.GET.get("hospital")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            made = services.request_shipment(
                hospital=data["hospital"],
                facility=data["facility"],
                actor=request.user,
                bags_wanted=data["bags_wanted"],
                note=data["note"],
            )
        except DomainError as error:
            show_refusal(error, [form])
        else:
            messages.success(
                request,
                f"Request {made.audit_code} from {made.hospital.code} sent to "
                f"{made.facility.fin}: it is on their production list.",
            )
            return redirect("dosing:shipment-list")
    return render(request, "dosing/shipment_request.html", {"form": form})
