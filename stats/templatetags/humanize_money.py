from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def money(value) -> str:
    """12345678.5 -> '12,345,678.50'."""
    try:
        return f"{Decimal(value):,.2f}"
    except (ArithmeticError, TypeError, ValueError):
        return str(value)
