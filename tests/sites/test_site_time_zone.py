"""Dates and times one way: ISO dates and 24-hour times typed in text inputs (never a
browser picker in its own locale, never the admin's calendar and its "You are N hours
behind server time" note), read and typed in the user's site's time zone, named where a
time is typed."""

import datetime
import inspect

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin import widgets as admin_widgets
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from batches import forms as batch_forms
from batches import shipment_forms
from batches.models import Batch
from core.widgets import IsoDateInput, IsoDateTimeInput
from dosing import forms as dosing_forms
from patients import cohort_forms
from patients import forms as patient_forms
from sites.middleware import SiteTimeZoneMiddleware
from sites.models import Facility
from tests.factories import BatchFactory

pytestmark = pytest.mark.django_db

ADMIN_PICKERS = (
    admin_widgets.AdminDateWidget,
    admin_widgets.AdminTimeWidget,
    admin_widgets.AdminSplitDateTime,
)


def zone_seen_by(user):
    request = RequestFactory().get("/")
    request.user = user
    return SiteTimeZoneMiddleware(lambda r: timezone.get_current_timezone_name())(request)


def move_facility(fin, zone):
    facility = Facility.objects.get(fin=fin)
    facility.time_zone = zone
    facility.save()


def test_a_user_reads_times_in_their_sites_zone_others_in_the_deployments(
    system_context, production_user, auditor, settings
):
    move_facility("E0001", "Atlantic/Canary")
    assert zone_seen_by(production_user) == "Atlantic/Canary"
    assert zone_seen_by(auditor) == settings.TIME_ZONE  # network-wide: the deployment's
    from django.contrib.auth.models import AnonymousUser

    assert zone_seen_by(AnonymousUser()) == settings.TIME_ZONE
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE  # not left active


def test_admin_page_and_typed_time_are_in_the_sites_zone(system_context, client, production_user):
    move_facility("E0001", "Atlantic/Canary")
    batch = BatchFactory(status=Batch.Status.IN_PRODUCTION)
    client.force_login(production_user)
    page = client.get(reverse("admin:batches_batch_change", args=[batch.pk])).content.decode()
    assert "Times are local (Atlantic/Canary)." in page
    assert "DateTimeShortcuts.js" not in page  # no calendar/clock, no browser-offset note
    assert "timezonewarning" not in page


def test_datetime_input_is_text_iso_24_hour_with_the_zone_beside_it():
    moment = datetime.datetime(2026, 5, 1, 15, 28, tzinfo=datetime.UTC)
    field = forms.DateTimeField(widget=IsoDateTimeInput())
    with timezone.override("Atlantic/Canary"):
        html = field.widget.render("at", timezone.localtime(moment))
        typed = field.clean("2026-05-01 16:28")
    assert 'type="text"' in html
    assert 'value="2026-05-01 16:28"' in html
    assert 'placeholder="YYYY-MM-DD HH:MM"' in html
    assert '<span class="unit time-zone">Atlantic/Canary</span>' in html
    assert typed == moment  # typed in the site's zone, stored in UTC
    date_html = IsoDateInput().render("on", datetime.date(2026, 5, 1))
    assert 'type="text"' in date_html and 'value="2026-05-01"' in date_html


def test_no_site_form_uses_a_browser_date_or_time_picker():
    pickers = []
    for module in (patient_forms, cohort_forms, dosing_forms, shipment_forms, batch_forms):
        for name, form in inspect.getmembers(module, inspect.isclass):
            if not issubclass(form, forms.BaseForm) or form.__module__ != module.__name__:
                continue
            for field_name, field in form.base_fields.items():
                if getattr(field.widget, "input_type", "") in ("date", "datetime-local", "time"):
                    pickers.append(f"{name}.{field_name}")
    assert pickers == []


def test_no_admin_form_uses_the_admin_calendar_or_clock(rf, django_user_model):
    request = rf.get("/")
    request.user = django_user_model(username="root", is_superuser=True, is_staff=True)
    found = []
    for model, model_admin in admin.site._registry.items():
        admins = [model_admin, *(i(model, admin.site) for i in model_admin.inlines)]
        for each in admins:
            for name, db_field in ((f.name, f) for f in each.model._meta.fields):
                if not db_field.editable:
                    continue
                formfield = each.formfield_for_dbfield(db_field, request)
                if formfield is not None and isinstance(formfield.widget, ADMIN_PICKERS):
                    found.append(f"{each.model._meta.label}.{name}")
    assert found == []
