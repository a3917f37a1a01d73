"""The QP's recall as one more entry of the batch admin's signed decisions, and the
vigilance records read-only in the admin (every write is a service's)."""

from django.contrib import admin, messages

from audit.admin import ReadOnlyAdmin
from audit.models import Signature
from batches.admin.signing import Decision, register_decision
from vigilance import services
from vigilance.forms import RecallForm
from vigilance.models import ReactionReport, Recall, RecallNotice

RECALL_DECISION = Decision(
    meaning=Signature.Meaning.RECALLED,
    action="recall_action",
    description="Recall (QP signature)",
    title="Recall batches: QP electronic signature",
    button="Recall and sign",
    verb="recalled",
    form=RecallForm,
    service=services.recall_batch,
    success=(
        "Batch {batch} recalled and signed by {signer}: its bags are blocked everywhere, its "
        "doses not yet infused are stopped and the hospitals concerned are notified."
    ),
    level=messages.WARNING,
)
register_decision(RECALL_DECISION)


@admin.register(Recall)
class RecallAdmin(ReadOnlyAdmin):
    list_display = ["code", "batch", "recalled_at", "recalled_by", "stopped_doses"]
    list_select_related = ["batch", "recalled_by"]


@admin.register(RecallNotice)
class RecallNoticeAdmin(ReadOnlyAdmin):
    list_display = ["recall", "hospital", "address", "sent_at", "acknowledged_at"]
    list_select_related = ["recall__batch", "hospital"]


@admin.register(ReactionReport)
class ReactionReportAdmin(ReadOnlyAdmin):
    list_display = ["code", "adverse_event", "reporting_date", "imputability"]
    list_select_related = ["adverse_event__patient"]
