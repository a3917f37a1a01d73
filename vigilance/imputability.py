"""The published table from the WHO-UMC causality categories the record uses to the
imputability levels of Directive 2006/86/EC, Annex II (part A). Documented in
docs/imputability.md; one table, used by the notification, the overdue rule and the PDF."""

from __future__ import annotations

from django.db import models


class Imputability(models.TextChoices):
    NOT_ASSESSABLE = "NA", "NA — not assessable"
    EXCLUDED = "0", "0 — excluded / unlikely"
    POSSIBLE = "1", "1 — possible"
    PROBABLE = "2", "2 — likely, probable"
    DEFINITE = "3", "3 — definite, certain"


# WHO-UMC category (dosing.AdverseEvent.Causality values) → Directive imputability level.
WHO_UMC_TO_IMPUTABILITY: dict[str, str] = {
    "certain": Imputability.DEFINITE,
    "probable": Imputability.PROBABLE,
    "possible": Imputability.POSSIBLE,
    "unlikely": Imputability.EXCLUDED,
    "conditional": Imputability.NOT_ASSESSABLE,
    "unassessable": Imputability.NOT_ASSESSABLE,
}

# "At least possibly related": the levels that make a serious event reportable.
RELATED_LEVELS = frozenset({Imputability.POSSIBLE, Imputability.PROBABLE, Imputability.DEFINITE})


def imputability_of(causality: str) -> str:
    """The Directive's level for a WHO-UMC category (KeyError for an unknown one)."""
    return WHO_UMC_TO_IMPUTABILITY[causality]


def is_related(causality: str) -> bool:
    """Whether a WHO-UMC category is at least possibly related (certain, probable,
    possible)."""
    return imputability_of(causality) in RELATED_LEVELS
