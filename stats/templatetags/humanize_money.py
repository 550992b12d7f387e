from django import template

from stats.formatting import format_money

register = template.Library()


@register.filter
def money(value) -> str:
    """12345678.5 -> '12,345,678.50 ₫', as in the statistics table (stats.formatting)."""
    return format_money(value)
