"""Date and time inputs typed one way everywhere: ISO dates, 24-hour times.

A browser's own picker (`type="date"`, `datetime-local`) shows the browser's locale
(mm/dd/yyyy, 12-hour clock) whatever the page says, and the admin's calendar and clock
warn "You are N hours behind server time" when the browser's zone is not the site's. These
are plain text inputs instead, `YYYY-MM-DD` and `YYYY-MM-DD HH:MM`, read in the current
time zone (the user's site's, `sites.middleware.SiteTimeZoneMiddleware`), whose name is
written beside every input where a time is typed.
"""

from __future__ import annotations

from django import forms
from django.db import models
from django.utils import timezone
from django.utils.html import format_html

DATE_INPUT = "%Y-%m-%d"
DATETIME_INPUT = "%Y-%m-%d %H:%M"
TIME_INPUT = "%H:%M"


class IsoDateInput(forms.DateInput):
    input_type = "text"

    def __init__(self, attrs=None, format=None):
        attrs = {"size": 10, "placeholder": "YYYY-MM-DD", "autocomplete": "off", **(attrs or {})}
        super().__init__(attrs=attrs, format=format or DATE_INPUT)


class _ZoneNamed:
    """Writes the current time zone's name beside the input."""

    def render(self, name, value, attrs=None, renderer=None):
        field = super().render(name, value, attrs, renderer)
        return format_html(
            '{} <span class="unit time-zone">{}</span>',
            field,
            timezone.get_current_timezone_name(),
        )


class IsoDateTimeInput(_ZoneNamed, forms.DateTimeInput):
    input_type = "text"

    def __init__(self, attrs=None, format=None):
        attrs = {
            "size": 16,
            "placeholder": "YYYY-MM-DD HH:MM",
            "autocomplete": "off",
            **(attrs or {}),
        }
        super().__init__(attrs=attrs, format=format or DATETIME_INPUT)


class IsoTimeInput(_ZoneNamed, forms.TimeInput):
    input_type = "text"

    def __init__(self, attrs=None, format=None):
        attrs = {"size": 5, "placeholder": "HH:MM", "autocomplete": "off", **(attrs or {})}
        super().__init__(attrs=attrs, format=format or TIME_INPUT)


# For a ModelAdmin's `formfield_overrides`: the admin's calendar/clock widgets (and their
# browser-offset note) replaced by the inputs above; one field, not a date/time split.
ADMIN_FORMFIELD_OVERRIDES = {
    models.DateTimeField: {"form_class": forms.DateTimeField, "widget": IsoDateTimeInput},
    models.DateField: {"widget": IsoDateInput},
    models.TimeField: {"widget": IsoTimeInput},
}
