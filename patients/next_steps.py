"""What the apps above `patients` offer as the next step on a patient's pages.

`patients` must not import `dosing` (layers: dosing builds on patients), yet the
eligibility page offers "Order dose 1" once a patient is eligible. The app that owns the
step registers a provider here when Django starts (`AppConfig.ready`); the page asks for
the steps without knowing who provides them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class NextStep:
    label: str
    href: str


Provider = Callable[..., "NextStep | None"]
_providers: list[Provider] = []


def register(provider: Provider) -> Provider:
    """Add `provider(patient, *, user, eligibility) -> NextStep | None`."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def next_steps(patient, *, user, eligibility) -> list[NextStep]:
    """The steps the registered apps offer this user for this patient now."""
    steps = (provider(patient, user=user, eligibility=eligibility) for provider in _providers)
    return [step for step in steps if step is not None]
