"""The sites of the network, as records an administrator adds without a deploy.

`sites` sits below every domain app: it imports nothing from batches, patients or dosing
(only audit, core and Django), and they refer to its records.
"""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from audit.audited import AuditedModel
from sites.querysets import FacilityQuerySet, HospitalQuerySet, MembershipQuerySet

SITE_CODE_VALIDATOR = RegexValidator(
    r"^[A-Z0-9]{2,8}$", "Use 2 to 8 capital letters or digits, such as FJD."
)
PATIENT_PREFIX_VALIDATOR = RegexValidator(
    r"^[A-Z0-9]{2,6}$",
    "Use 2 to 6 capital letters or digits: the part of a patient code before the hyphen.",
)


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name such as Europe/Madrid.")


class Site(AuditedModel):
    """What a GMP facility and a hospital share: a name, a time zone and the address that
    receives the site's notifications (recalls, serious reactions, shipments)."""

    name = models.CharField(max_length=200)
    time_zone = models.CharField(
        max_length=64, default="Europe/Madrid", validators=[validate_time_zone]
    )
    notification_email = models.EmailField(
        "notification address",
        blank=True,
        help_text="Receives the site's notices: recalls, serious reactions, shipments.",
    )

    class Meta:
        abstract = True


# Facilities were `batches.facility` until migration sites 0001. The audit trail is
# append-only and hash-chained, so the events written before the move keep that object
# type; a facility's history reads both names (see `sites.admin.FacilityAdmin`).
FACILITY_FORMER_OBJECT_TYPES = ("batches.facility",)


class Facility(Site):
    """A GMP cell-production facility (the paper's three: Salamanca, Navarra, Marañón)."""

    # Its events before the move between apps (read by the audit reconciliation).
    audit_former_object_types = FACILITY_FORMER_OBJECT_TYPES

    fin = models.CharField(
        "facility identification number",
        max_length=5,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9]{5}$", "Use exactly 5 capital letters or digits.")],
        help_text="ISBT 128 FIN: 5 letters or digits, the start of every DIN issued here.",
    )
    authorisation_ref = models.CharField("GMP authorisation", max_length=100, blank=True)

    objects = FacilityQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "facilities"
        ordering = ["fin"]

    def __str__(self):
        return f"{self.fin} {self.name}"

    @property
    def audit_code(self):
        return self.fin


class Hospital(Site):
    """A treating hospital: its pharmacy receives shipments, its ICU treats patients."""

    code = models.CharField(
        "site code",
        max_length=8,
        unique=True,
        validators=[SITE_CODE_VALIDATOR],
        help_text="Short code of the hospital, e.g. FJD; demo logins end in it.",
    )
    patient_code_prefix = models.CharField(
        max_length=6,
        unique=True,
        validators=[PATIENT_PREFIX_VALIDATOR],
        help_text="Every patient code registered here starts with it, e.g. FJD in FJD-P01.",
    )

    objects = HospitalQuerySet.as_manager()

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"

    @property
    def audit_code(self):
        return self.code


class Membership(AuditedModel):
    """A user belongs to a site (a facility or a hospital); an auditor may instead be
    network-wide. What a user sees and does is their role's work at their sites only."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_memberships"
    )
    facility = models.ForeignKey(
        Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="memberships"
    )
    hospital = models.ForeignKey(
        Hospital, null=True, blank=True, on_delete=models.PROTECT, related_name="memberships"
    )
    network_wide = models.BooleanField(
        default=False, help_text="Every site of the network (auditors only)."
    )

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["user_id", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(facility__isnull=False, hospital__isnull=True, network_wide=False)
                    | models.Q(facility__isnull=True, hospital__isnull=False, network_wide=False)
                    | models.Q(facility__isnull=True, hospital__isnull=True, network_wide=True)
                ),
                name="membership_one_site_or_network",
                violation_error_message="Choose one facility, one hospital, or the whole network.",
            ),
            models.UniqueConstraint(
                fields=["user", "facility"], name="membership_unique_facility"
            ),
            models.UniqueConstraint(
                fields=["user", "hospital"], name="membership_unique_hospital"
            ),
        ]

    def __str__(self):
        return f"{self.user} @ {self.site_label}"

    @property
    def site_label(self) -> str:
        if self.network_wide:
            return "the whole network"
        return str(self.facility or self.hospital)

    @property
    def audit_code(self):
        return f"{self.user_id}@{self.site_label}"
