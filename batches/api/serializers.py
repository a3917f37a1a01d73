"""Serializers of production records for the auditor API.

Nested data an auditor needs comes inline: a batch with its donor, facility, release
checks (each with its specification limit and pass/fail) and the QP's release signature.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.models import Signature
from audit.signatures import hash_matches, signature_matches
from batches.models import (
    Bag,
    BagEvent,
    Batch,
    Donor,
    Procurement,
    ReleaseCheck,
    SerologyResult,
    SpecificationItem,
)
from batches.querysets import attach_decision_signatures
from core.api.serializers import ModelSerializer
from sites.api import FacilitySerializer

BATCH_CODE_HELP = "Batch code: the 13-character ISBT 128 DIN followed by its check character."


def described(**texts: str) -> dict:
    """`extra_kwargs` giving each named model field its OpenAPI description."""
    return {name: {"help_text": text} for name, text in texts.items()}


class SerologyResultSerializer(ModelSerializer):
    class Meta:
        model = SerologyResult
        fields = list(SerologyResult.RECORD_FIELDS)
        extra_kwargs = described(
            test="Screening test (marker).",
            result="Result of the test.",
            sampled_on="Date the sample was taken.",
        )


class ProcurementSerializer(ModelSerializer):
    class Meta:
        model = Procurement
        fields = list(Procurement.RECORD_FIELDS)
        extra_kwargs = described(
            procured_on="Date of the liposuction.",
            lipoaspirate_volume_ml="Volume of lipoaspirate collected (ml).",
            fat_weight_g="Weight of fat obtained (g).",
        )


class DonorSerializer(ModelSerializer):
    serology = SerologyResultSerializer(
        many=True, read_only=True, help_text="Dated donor screening results."
    )
    procurements = ProcurementSerializer(
        many=True, read_only=True, help_text="Tissue procurements from this donor."
    )
    facility = serializers.SlugRelatedField(
        slug_field="fin",
        read_only=True,
        help_text="FIN of the facility that registered the donor (null before the network).",
    )

    class Meta:
        model = Donor
        fields = [*Donor.RECORD_FIELDS, "created_at", "serology", "procurements"]
        extra_kwargs = described(
            age_at_donation="Age in years at donation (eligible donors are younger than 50).",
            sex="Sex of the donor.",
            has_comorbidities="Whether the donor has comorbidities (makes them ineligible).",
            has_concomitant_treatments="Whether the donor takes concomitant treatments.",
            consent_signed_on="Date the consent for clinical use was signed.",
            created_at="When the donor was registered.",
        )


class SpecificationItemSerializer(ModelSerializer):
    # str() of the specification (never null), without DRF inspecting the signature of
    # a bound `__str__` for every item shown (`source="specification.__str__"` did).
    specification = serializers.StringRelatedField(
        help_text="Specification code and version, e.g. 'AT-MSC-REL v2'.",
    )
    criterion = serializers.CharField(
        read_only=True, help_text="The acceptance criterion in words, e.g. '≥ 95 %'."
    )

    class Meta:
        model = SpecificationItem
        fields = ["specification", *SpecificationItem.RECORD_FIELDS, "criterion"]
        extra_kwargs = described(
            category="Kind of release test.",
            kind="How the result is judged: min, max or expected.",
            lower_limit="Lowest acceptable value (kind 'min').",
            upper_limit="Highest acceptable value (kind 'max').",
            expected_result="Required text result (kind 'expected').",
            unit="Unit of the limits and results.",
            required="Whether release needs this check to pass.",
        )


class BatchCheckSerializer(ModelSerializer):
    """A release check as shown inside its batch."""

    item = SpecificationItemSerializer(read_only=True, help_text="The specification item.")

    class Meta:
        model = ReleaseCheck
        fields = [
            "id",
            "item",
            "result_value",
            "result_text",
            "tested_on",
            "passed",
            "recorded_at",
        ]
        extra_kwargs = described(
            id="Identifier of the release check.",
            result_value="Numeric result, in the item's unit.",
            result_text="Text result (e.g. 'normal').",
            tested_on="Date of the test.",
            passed="Computed from the result and the limit; never typed.",
            recorded_at="When the result was recorded.",
        )


class ReleaseCheckSerializer(BatchCheckSerializer):
    batch = serializers.CharField(source="batch.code", read_only=True, help_text=BATCH_CODE_HELP)

    class Meta(BatchCheckSerializer.Meta):
        fields = ["id", "batch", *BatchCheckSerializer.Meta.fields[1:]]


class SignatureSerializer(ModelSerializer):
    signer = serializers.CharField(
        source="signer.username", read_only=True, help_text="Username of the signer."
    )
    matches_record = serializers.SerializerMethodField(
        help_text="Whether the batch record still hashes to what the QP signed; false means "
        "the record changed after signing. On the batch's own page the record is rebuilt "
        "and hashed; in lists, the hash the batch keeps of its record is compared."
    )

    class Meta:
        model = Signature
        fields = [
            "meaning",
            "signer",
            "printed_name",
            "signed_at",
            "content_hash",
            "matches_record",
            "comment",
        ]
        extra_kwargs = described(
            meaning="What the signature means (released, rejected, ...).",
            printed_name="Printed name of the signer at the time of signing.",
            signed_at="When the signature was made.",
            comment="Comment entered with the signature.",
        )

    def get_matches_record(self, signature) -> bool | None:
        content = self.context.get("signed_content")
        if content is not None:
            return signature_matches(signature, content)
        kept = self.context.get("kept_hash")
        return None if kept is None else hash_matches(signature, kept)


class BatchListSerializer(serializers.ListSerializer):
    """Loads the release signatures of every batch on a page (or CSV chunk) in one query."""

    def to_representation(self, data):
        batches = list(data.all() if hasattr(data, "all") else data)
        attach_release_signatures(batches)
        return super().to_representation(batches)


def attach_release_signatures(batches) -> None:
    """Each batch's latest decision signature (`DECISION_MEANINGS`) as
    `_release_signature`, for a page of batches in one query."""
    attach_decision_signatures(batches)
    for batch in batches:
        batch._release_signature = batch.decision_signature()


class BatchSerializer(ModelSerializer):
    code = serializers.CharField(read_only=True, help_text=BATCH_CODE_HELP)
    donor = serializers.CharField(source="donor.code", read_only=True, help_text="Donor code.")
    facility = FacilitySerializer(read_only=True, help_text="Facility that made the batch.")
    procurement = ProcurementSerializer(read_only=True, help_text="Source tissue procurement.")
    specification = serializers.StringRelatedField(
        help_text="Release specification (code and version) the batch is judged against.",
    )
    checks = BatchCheckSerializer(
        many=True, read_only=True, help_text="Release checks with their limits and pass/fail."
    )
    release_signature = serializers.SerializerMethodField(
        help_text="The QP's latest release or rejection signature; null before a decision."
    )

    class Meta:
        model = Batch
        list_serializer_class = BatchListSerializer
        fields = [
            "code",
            "din",
            "din_check",
            "status",
            "status_changed_at",
            "donor",
            "facility",
            "procurement",
            "impd_reference",
            "specification",
            *Batch.MANUFACTURING_FIELDS,
            *Batch.FROM_CHECKS,
            "created_at",
            "checks",
            "release_signature",
        ]
        extra_kwargs = described(
            din_check="ISO 7064 mod 37-2 check character of the DIN.",
            status="Batch status.",
            status_changed_at="When the status last changed.",
            impd_reference="Investigational medicinal product dossier reference.",
            population_doublings="Population doublings (release needs fewer than 20).",
            passages="Passages (release needs fewer than 2).",
            cryopreserved_on="Date of cryopreservation.",
            expires_on="Expiry date of the batch.",
            viability_pct="Cell viability before cryopreservation (%), read from the "
            "viability release check.",
            created_at="When the batch was recorded.",
        )

    @extend_schema_field(SignatureSerializer(allow_null=True))
    def get_release_signature(self, batch):
        if not hasattr(batch, "_release_signature"):
            attach_release_signatures([batch])
        signature = batch._release_signature
        if signature is None:
            return None
        context = {"kept_hash": batch.record_hash}
        if self.context.get("verify_signature"):
            # The checks this request prefetched (batch_queryset), not read again.
            context["signed_content"] = batch.signature_content(checks=batch.checks.all())
        return SignatureSerializer(signature, context=context).data


class BagSerializer(ModelSerializer):
    batch = serializers.CharField(source="batch.code", read_only=True, help_text=BATCH_CODE_HELP)
    batch_status = serializers.CharField(
        source="batch.status", read_only=True, help_text="Status of the bag's batch."
    )
    donor = serializers.CharField(
        source="batch.donor.code", read_only=True, help_text="Donor code of the bag's batch."
    )
    location = serializers.StringRelatedField(
        # Not `source="location.__str__"`: for a bag out of storage that is None's own
        # method, rendered as "<method-wrapper ...>" instead of null.
        allow_null=True,
        help_text="Storage position tank/rack/box/position; null once out of storage.",
    )

    class Meta:
        model = Bag
        fields = [
            "code",
            "batch",
            "batch_status",
            "donor",
            "product_code",
            "division",
            "nominal_cells",
            "volume_ml",
            "location",
            "status",
            "discard_reason",
            "created_at",
        ]
        extra_kwargs = described(
            code="Bag code: batch code, product code and division (ISBT 128 style).",
            status="Bag status.",
            volume_ml="Volume of the bag (ml).",
            discard_reason="Why the bag was discarded.",
            created_at="When the bag was recorded.",
        )


class BagEventSerializer(ModelSerializer):
    actor = serializers.CharField(
        source="actor.username",
        read_only=True,
        allow_null=True,
        help_text="Username of who made the transition; null for the system.",
    )

    class Meta:
        model = BagEvent
        fields = ["occurred_at", "from_status", "to_status", "actor", "location", "note"]
        extra_kwargs = described(
            occurred_at="When the transition happened.",
            from_status="Status before (empty for the first event).",
            to_status="Status after.",
            location="Where it happened (storage position, ward, ...).",
            note="Free-text note.",
        )
