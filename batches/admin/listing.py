"""What the long changelists (batches, bags) share: their rows written directly, the same
HTML as Django's, and the action checkbox of each row without a template.

Django writes each cell through `items_for_result` — a field lookup, the empty-value
display asked of the admin, a `format_html`, and for the linked column a `reverse()` and
a parse of the preserved filters — and the results template then loops over every cell:
on a page of 100 rows that was half of the request (profiled at scale 0.1, issue 15;
the checkbox through the form renderer's template had been 40 % before). `QuickRows`
resolves each column once per page, as `items_for_result` resolves it for each cell,
and writes each row as one string; the values are still shown by Django's own
`display_for_field` and `display_for_value`. A page it does not cover (an editable list,
a popup) is left to Django. `tests/batches/test_admin_listing.py` compares the two.
"""

from __future__ import annotations

import datetime
import decimal
from types import SimpleNamespace

from django.contrib.admin import helpers
from django.contrib.admin.templatetags.admin_list import (
    ResultList,
    _coerce_field_name,
    result_headers,
    result_hidden_fields,
    results,
)
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import (
    FieldIsAForeignKeyColumnName,
    _get_non_gfk_field,
    display_for_field,
    display_for_value,
    lookup_field,
)
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.template.loader import render_to_string, select_template
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

# Stands for a row's primary key in the change URL built once per page.
PK_MARK = "0rowpk0"


def admin_templates(opts, name: str) -> list[str]:
    """The templates Django's admin looks for, most specific first."""
    app_label = opts.app_label.lower()
    return [
        f"admin/{app_label}/{opts.model_name}/{name}",
        f"admin/{app_label}/{name}",
        f"admin/{name}",
    ]


def _is_link(cl, first: bool, field_name) -> bool:
    """`items_for_result`'s `link_in_col`."""
    if cl.list_display_links is None:
        return False
    if first and not cl.list_display_links:
        return True
    return field_name in cl.list_display_links


def _change_url(cl):
    """A row's change URL with the list's filters preserved (`None` when it has none), as
    `items_for_result` makes it; for an integer key, reversed once for the page."""

    def each(result):
        try:
            url = cl.url_for_result(result)
        except NoReverseMatch:
            return None
        return add_preserved_filters(
            {"preserved_filters": cl.preserved_filters, "opts": cl.opts}, url
        )

    def escaped(result):
        url = each(result)
        return None if url is None else escape(url)

    if type(cl).url_for_result is not ChangeList.url_for_result:
        return escaped
    # All `url_for_result` reads of a row is its key; the mark comes first in the path.
    marked = escaped(SimpleNamespace(**{cl.pk_attname: PK_MARK}))
    if marked is None or PK_MARK not in marked:
        return escaped
    before, after = marked.split(PK_MARK, 1)

    def url(result):
        pk = getattr(result, cl.pk_attname)
        if type(pk) is int:
            return f"{before}{pk}{after}"
        return escaped(result)

    return url


_MISSING = object()


def _value_of(cl, field_name):
    """(field, attr, resolve) of a column, resolved once for the page as `lookup_field`
    resolves it for each cell: `resolve(row)` is (attr, value) of the row's cell, `attr`
    (whose `boolean` and `empty_value_display` the cell follows) the same for every row
    unless `lookup_field` itself had to be asked."""
    model_admin = cl.model_admin
    try:
        field = _get_non_gfk_field(cl.lookup_opts, field_name)
    except (FieldDoesNotExist, FieldIsAForeignKeyColumnName):
        pass
    else:
        return field, None, lambda result: (None, getattr(result, field_name))
    if callable(field_name):
        return None, field_name, lambda result: (field_name, field_name(result))
    if hasattr(model_admin, field_name) and field_name != "__str__":
        attr = getattr(model_admin, field_name)
        return None, attr, lambda result: (attr, attr(result))
    model_attr = getattr(cl.model, field_name, _MISSING)

    def resolve(result):
        value = getattr(result, field_name, _MISSING)
        if value is _MISSING or model_attr is _MISSING:
            _, attr, value = lookup_field(field_name, result, model_admin)
            return attr, value
        return model_attr, value() if callable(value) else value

    return None, model_attr, resolve


def _display_options(attr, empty):
    """(empty value display, boolean) of a column's `attr`, as `items_for_result` reads them."""
    boolean = getattr(attr, "boolean", False)
    if isinstance(attr, property) and hasattr(attr, "fget"):
        boolean = getattr(attr.fget, "boolean", False)
    return getattr(attr, "empty_value_display", empty), boolean


def _cell(cl, field_index, field_name, tag):
    """The function writing one column's cell of a row as `items_for_result` does, `tag`
    "th"/"td" for the linked column (None for the others)."""
    model_admin = cl.model_admin
    model_admin_empty = model_admin.get_empty_value_display()
    if field_name == "action_checkbox" and not tag and hasattr(model_admin, "action_checkboxes"):
        checkbox = model_admin.action_checkboxes()
        return lambda result: f'<td class="action-checkbox">{checkbox(result)}</td>'
    name_class = f"field-{_coerce_field_name(field_name, field_index)}"
    field, column_attr, resolve = _value_of(cl, field_name)
    change_url = _change_url(cl) if tag else None

    def wrap(result, row_class, shown):
        if not tag:
            return f"<td{row_class}>{conditional_escape(shown)}</td>"
        url = change_url(result)
        if url is None:
            return f"<{tag}{row_class}>{conditional_escape(shown)}</{tag}>"
        return f'<{tag}{row_class}><a href="{url}">{conditional_escape(shown)}</a></{tag}>'

    plain_class = f' class="{name_class}"'
    if field is not None and not field.auto_created:
        nowrap = isinstance(field, (models.DateField, models.TimeField, models.ForeignKey))
        field_class = f' class="{name_class} nowrap"' if nowrap else plain_class
        related = isinstance(field.remote_field, models.ManyToOneRel)
        shown_for = _field_display(field, model_admin_empty, avoid_link=bool(tag))

        def cell(result):
            try:
                value = getattr(result, field_name)
            except ObjectDoesNotExist:
                return wrap(result, plain_class, model_admin_empty)
            if related:
                shown = model_admin_empty if value is None else value
            else:
                if isinstance(value, str) and value.strip() == "":
                    value = ""
                shown = shown_for(value)
            return wrap(result, field_class, shown)

        return cell

    classes = "action-checkbox" if field_name == "action_checkbox" else name_class
    row_class, nowrap_class = f' class="{classes}"', f' class="{classes} nowrap"'
    shown_for = _once_per_value(display_for_value)
    column_options = _display_options(column_attr, model_admin_empty)

    def cell(result):
        try:
            attr, value = resolve(result)
        except ObjectDoesNotExist:
            return wrap(result, plain_class, model_admin_empty)
        if attr is column_attr:
            empty, boolean = column_options
        else:
            empty, boolean = _display_options(attr, model_admin_empty)
        if isinstance(value, str) and value.strip() == "":
            value = ""
        shown = shown_for(value, empty, boolean)
        dated = isinstance(value, (datetime.date, datetime.time))
        return wrap(result, nowrap_class if dated else row_class, shown)

    return cell


def _once_per_value(display):
    """`display(value, *args)`, computed once per value of the page: formatting a number
    or a date for the locale is most of a cell's time, and a column repeats its values.
    Only for ints, dates and decimals (by their digits), whose equal keys are shown
    alike (unlike `True` and `1`, or `Decimal("1.0")` and `Decimal("1.00")`)."""
    shown = {}

    def once(value, *args):
        kind = type(value)
        if kind is decimal.Decimal:
            key = (kind, str(value), *args)
        elif kind is int or kind is datetime.date:
            key = (kind, value, *args)
        else:
            return display(value, *args)
        if key not in shown:
            shown[key] = display(value, *args)
        return shown[key]

    return once


def _field_display(field, empty, avoid_link):
    """`display_for_field` for one field, its choices read once for the page."""
    if getattr(field, "flatchoices", None):
        try:
            choices = dict(field.flatchoices)
        except TypeError:
            choices = None
        if choices is not None:

            def shown(value):
                try:
                    return choices.get(value, empty)
                except TypeError:
                    return display_for_field(value, field, empty, avoid_link=avoid_link)

            return shown
    once = _once_per_value(display_for_field)
    return lambda value: once(value, field, empty, avoid_link)


class QuickRows:
    """A ChangeList mixin: `result_table`, the list's table as `{% result_list cl %}`
    writes it, with each row written as one string (`templates/admin/
    change_list_quick_rows.html` shows it)."""

    def quick_results(self) -> list[ResultList]:
        """The rows of `admin_list.results(cl)`, each a single cell of its whole HTML."""
        if self.formset or self.is_popup:
            return list(results(self))
        cells, first = [], True
        for field_index, field_name in enumerate(self.list_display):
            tag = None
            if _is_link(self, first, field_name):
                tag, first = ("th" if first else "td"), False
            cells.append(_cell(self, field_index, field_name, tag))
        # Each cell escapes its value (`conditional_escape`, as `format_html` does).
        return [
            ResultList(None, [mark_safe("".join([cell(result) for cell in cells]))])  # noqa: S308
            for result in self.result_list
        ]

    @property
    def result_table(self) -> str:
        # `admin_list.result_list`, with the rows above.
        headers = list(result_headers(self))
        context = {
            "cl": self,
            "result_hidden_fields": list(result_hidden_fields(self)),
            "result_headers": headers,
            "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
            "results": self.quick_results(),
        }
        return render_to_string(admin_templates(self.opts, "change_list_results.html"), context)


class QuickRowsChangeList(QuickRows, ChangeList):
    pass


class QuickListing:
    """A ModelAdmin mixin for a long changelist: rows written directly (`QuickRows`: an
    admin with a changelist class of its own mixes it in there) and the action checkbox
    without a template per row. Its template extends the one Django would have used."""

    change_list_template = "admin/change_list_quick_rows.html"

    def get_changelist(self, request, **kwargs):
        return QuickRowsChangeList

    def changelist_view(self, request, extra_context=None):
        parent = select_template(admin_templates(self.opts, "change_list.html"))
        return super().changelist_view(
            request, {"change_list_parent": parent, **(extra_context or {})}
        )

    def action_checkboxes(self):
        """`action_checkbox` for the rows of one page: its label translated once."""
        name = escape(helpers.ACTION_CHECKBOX_NAME)
        label = _("Select this object for an action - {}")

        def checkbox(obj):
            # What Django's `format_html` makes of it: the values escaped, the label not.
            return mark_safe(  # noqa: S308
                f'<input type="checkbox" name="{name}" value="{escape(str(obj.pk))}" '
                f'class="action-select" aria-label="{label.format(escape(str(obj)))}">'
            )

        return checkbox

    def action_checkbox(self, obj):
        return self.action_checkboxes()(obj)
