"""The PDF views: bag, batch, storage and wristband labels, and the dispensing sheet.

Each needs the view permission of what it prints (anonymous → the login page, signed in
without it → 403, `core.views.requires`) and reads through `for_user`, so that a record
the user may not see is a 404, never a disclosure. A record that cannot be printed
without losing data (`labels.isbt.LabelError`) is a 409 with the reason as plain text.
"""

from __future__ import annotations

from functools import wraps

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404

from batches.models import Bag, Batch, StorageLocation
from core.views import requires
from dosing.views.common import dose_or_404
from labels.bag import bag_labels_pdf
from labels.isbt import LabelError
from labels.pdf import pdf_response
from labels.sheet import dispensing_sheet_pdf
from labels.storage import location_parts, storage_labels_pdf
from labels.wristband import wristband_pdf
from patients.querysets import patient_or_404

VIEW_BAG = "batches.view_bag"
VIEW_BATCH = "batches.view_batch"
VIEW_STORAGE = "batches.view_storagelocation"
VIEW_PATIENT = "patients.view_patient"
VIEW_DOSE = "dosing.view_dose"


def refusing(view):
    """A `LabelError` becomes 409 Conflict with its message."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except LabelError as error:
            return HttpResponse(str(error), status=409, content_type="text/plain; charset=utf-8")

    return wrapped


def _bags(request):
    return Bag.objects.for_user(request.user).select_related("batch__facility", "location")


@requires(VIEW_BAG)
@refusing
def bag_label(request, code: str):
    bag = get_object_or_404(_bags(request), code=code)
    return pdf_response(bag_labels_pdf([bag], title=f"Bag label {bag.code}"), f"bag-{code}.pdf")


# One PDF of at most this many labels (the bag changelist's "Print labels" action).
MAX_SELECTED_BAGS = 500


@requires(VIEW_BAG)
@refusing
def selected_bag_labels(request, ids: str):
    """One label per bag of `ids` ("12,13,14": the bag changelist's "Print labels"
    action), in code order. A bag the user may not see (or no such bag) makes the whole
    request a 404."""
    parts = ids.split(",")
    if len(parts) > MAX_SELECTED_BAGS or not all(p.isdigit() for p in parts):
        raise Http404(f"Name between 1 and {MAX_SELECTED_BAGS} bags by their ids.")
    wanted = {int(p) for p in parts}
    bags = list(_bags(request).filter(pk__in=wanted).order_by("code"))
    if len(bags) != len(wanted):
        raise Http404("No such bag among those you may see.")
    content = bag_labels_pdf(bags, title=f"Bag labels ({len(bags)} bags)")
    return pdf_response(content, f"bag-labels-{len(bags)}.pdf")


@requires(VIEW_BATCH, VIEW_BAG)
@refusing
def batch_labels(request, code: str):
    """One label per bag of the batch `code` (DIN + check character)."""
    batches = Batch.objects.for_user(request.user)
    batch = get_object_or_404(batches, din=code[:-1], din_check=code[-1:])
    bags = list(_bags(request).filter(batch=batch).order_by("product_code", "pk"))
    if not bags:
        raise Http404("This batch has no bags to label.")
    content = bag_labels_pdf(bags, title=f"Bag labels of batch {batch.code}")
    return pdf_response(content, f"batch-{batch.code}.pdf")


def _locations(request):
    return StorageLocation.objects.for_user(request.user)


@requires(VIEW_STORAGE)
@refusing
def storage_position_label(request, pk: int):
    location = get_object_or_404(_locations(request), pk=pk)
    content = storage_labels_pdf([location_parts(location)], title=f"Storage {location}")
    return pdf_response(content, f"storage-{location}.pdf")


@requires(VIEW_STORAGE)
@refusing
def storage_rack_label(request, tank: str, rack: str):
    if not _locations(request).filter(tank=tank, rack=rack).exists():
        raise Http404("No such rack.")
    content = storage_labels_pdf([(tank, rack)], title=f"Rack {tank}/{rack}")
    return pdf_response(content, f"rack-{tank}-{rack}.pdf")


@requires(VIEW_STORAGE)
@refusing
def storage_box_labels(request, tank: str, rack: str, box: str):
    """The box's label, then one label per position recorded in the box."""
    positions = list(_locations(request).filter(tank=tank, rack=rack, box=box))
    if not positions:
        raise Http404("No such box.")
    positions.sort(key=lambda loc: (len(loc.position), loc.position))  # 2 before 10
    places = [(tank, rack, box), *(location_parts(loc) for loc in positions)]
    content = storage_labels_pdf(places, title=f"Box {tank}/{rack}/{box}")
    return pdf_response(content, f"box-{tank}-{rack}-{box}.pdf")


@requires(VIEW_PATIENT)
@refusing
def wristband_label(request, code: str):
    patient = patient_or_404(request.user, code)
    return pdf_response(wristband_pdf(patient), f"wristband-{patient.code}.pdf")


@requires(VIEW_DOSE)
@refusing
def dispensing_sheet(request, pk: int):
    dose = dose_or_404(request, pk)
    content = dispensing_sheet_pdf(dose, printed_by=request.user)
    return pdf_response(content, f"dispensing-sheet-{dose.code}.pdf")
