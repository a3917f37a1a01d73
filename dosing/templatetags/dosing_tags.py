"""Display helpers: cell counts as ×10⁶, times in the local zone."""

from django import template

from core.formatting import fmt_cells, fmt_time

register = template.Library()


@register.filter
def cells(value):
    return fmt_cells(value)


@register.filter
def localtime_fmt(value):
    return fmt_time(value)
