"""The treatment protocol: versioned dose and preparation settings."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from audit.audited import AuditedModel
from dosing.querysets import ProtocolQuerySet

# A patient's doses are numbered 1..3: the case series' maximum, and the most any protocol
# may allow (its `max_doses`, the dose numbers and a database constraint all say so).
MAX_DOSE_NUMBER = 3


class Protocol(AuditedModel):
    """A versioned set of dose and preparation settings (the paper's protocol is v1)."""

    objects = ProtocolQuerySet.as_manager()

    code = models.CharField(max_length=40)
    version = models.PositiveIntegerField()
    active = models.BooleanField(default=True, help_text="New doses use the newest active one.")
    effective_from = models.DateField(null=True, blank=True)
    target_cells_per_kg = models.BigIntegerField(default=1_000_000)
    min_cells_per_kg = models.BigIntegerField(default=700_000)
    max_cells_per_kg = models.BigIntegerField(default=1_300_000)
    max_doses = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DOSE_NUMBER)],
        help_text="At most 3: a patient's doses are numbered 1–3.",
    )
    min_interval_hours = models.PositiveSmallIntegerField(default=48)
    max_interval_hours = models.PositiveSmallIntegerField(default=96)
    refresh_max_culture_hours = models.PositiveSmallIntegerField(
        default=72, help_text="A refreshed product is cultured for less than this."
    )
    harvest_to_infusion_max_hours = models.PositiveSmallIntegerField(
        default=24, help_text="A refreshed product is infused within this of harvest."
    )
    thaw_to_infusion_max_minutes = models.PositiveSmallIntegerField(
        default=60, help_text="GMP practice: a thawed product starts infusion within this."
    )
    premedication_required_for_thawed = models.BooleanField(default=True)
    premedication = models.CharField(
        max_length=200, blank=True, default="Steroids and dexchlorpheniramine"
    )
    assessment_max_age_days = models.PositiveSmallIntegerField(
        default=1,
        validators=[MaxValueValidator(30)],
        help_text="Dose 1 is ordered on an assessment of its day or up to this many days before.",
    )
    weight_max_age_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MaxValueValidator(90)],
        help_text="A dose is calculated from a weight measured at most this many days before.",
    )
    refresh_max_expansion = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=Decimal("4.0"),
        validators=[MinValueValidator(Decimal("1.0"))],
        help_text="A refreshed viable count is at most the thawed bags' cells times this "
        "(cells grow in culture).",
    )
    filter_microns = models.PositiveSmallIntegerField(default=200)
    overrides_allowed = models.BooleanField(
        default=True,
        help_text="A dose outside the range may be given on a named physician's written reason.",
    )

    class Meta:
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="protocol_code_version"),
            models.CheckConstraint(
                condition=Q(min_cells_per_kg__lte=models.F("target_cells_per_kg"))
                & Q(target_cells_per_kg__lte=models.F("max_cells_per_kg")),
                name="protocol_target_within_range",
            ),
            models.CheckConstraint(
                condition=Q(min_interval_hours__lte=models.F("max_interval_hours")),
                name="protocol_interval_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.code} v{self.version}"

    # Settings a dose was given under: fixed once a dose uses the version.
    SETTINGS = (
        "code",
        "version",
        "effective_from",
        "target_cells_per_kg",
        "min_cells_per_kg",
        "max_cells_per_kg",
        "max_doses",
        "min_interval_hours",
        "max_interval_hours",
        "refresh_max_culture_hours",
        "harvest_to_infusion_max_hours",
        "thaw_to_infusion_max_minutes",
        "assessment_max_age_days",
        "weight_max_age_days",
        "refresh_max_expansion",
        "premedication_required_for_thawed",
        "premedication",
        "filter_microns",
        "overrides_allowed",
    )

    @property
    def in_use(self) -> bool:
        return self.pk is not None and self.doses.exists()

    def clean(self):
        """A version used by doses keeps its settings (only `active` may change): a
        change is a new version, so every dose keeps the rules it was given under."""
        super().clean()
        if not self.in_use:
            return
        stored = type(self).objects.filter(pk=self.pk).values(*self.SETTINGS).first() or {}
        changed = [name for name in self.SETTINGS if stored.get(name) != getattr(self, name)]
        if changed:
            raise ValidationError(
                f"{self} is used by doses: its settings ({', '.join(changed)}) cannot change. "
                "Create a new version of the protocol instead."
            )

    @property
    def audit_code(self) -> str:
        return str(self)
