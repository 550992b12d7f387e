"""How money reads on the statistics pages: one function for the table and the chart."""

from decimal import Decimal

CURRENCY = "₫"


def format_money(value) -> str:
    """12345678.5 -> '12,345,678.50 ₫' (a no-break space before the sign, so a table cell
    never wraps it onto a line of its own). Anything that is not a number is shown as is."""
    try:
        return f"{Decimal(value):,.2f}\N{NO-BREAK SPACE}{CURRENCY}"
    except (ArithmeticError, TypeError, ValueError):
        return str(value)
