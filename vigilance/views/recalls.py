"""The recalls and each one's lookback (QP, pharmacy, clinicians, auditors)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.exceptions import DomainError
from core.views import requires
from vigilance import services
from vigilance.models import Recall, RecallNotice
from vigilance.services.lookback import LOOKBACK_PERMISSIONS

VIEW_RECALL = "vigilance.view_recall"
ACKNOWLEDGE = "vigilance.change_recallnotice"


@requires(VIEW_RECALL)
def recall_list(request):
    recalls = Recall.objects.for_user(request.user).select_related("batch", "signature")
    return render(
        request,
        "vigilance/recall_list.html",
        {"recalls": recalls, "notices": services.recall_notices(request.user)},
    )


@requires(VIEW_RECALL)
def recall_lookback(request, pk: int):
    recall = get_object_or_404(
        Recall.objects.for_user(request.user).select_related("batch__donor", "signature"), pk=pk
    )
    notices = RecallNotice.objects.for_user(request.user).filter(recall=recall)
    sees_patients = request.user.has_perms(LOOKBACK_PERMISSIONS)
    return render(
        request,
        "vigilance/lookback.html",
        {
            "recall": recall,
            "sees_patients": sees_patients,
            "lookback": services.lookback(recall, request.user) if sees_patients else None,
            "notices": notices,
            "can_acknowledge": request.user.has_perm(ACKNOWLEDGE),
        },
    )


@require_POST
@requires(ACKNOWLEDGE)
def notice_acknowledge(request, pk: int):
    notice = get_object_or_404(RecallNotice.objects.for_user(request.user), pk=pk)
    try:
        services.acknowledge_notice(notice, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Notice {notice} acknowledged.")
    return redirect("vigilance:lookback", pk=notice.recall_id)
