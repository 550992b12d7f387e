"""Charts drawn on the server as SVG: the admin works offline, with no script or CDN."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_Y = 860, 260, 70, 60, 24


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    value: str


def _points(values: list[Decimal | int], labels: list[str]) -> list[Point]:
    top = max((float(v) for v in values), default=0.0) or 1.0
    span = max(len(values) - 1, 1)
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - 2 * PAD_Y
    return [
        Point(
            x=round(PAD_LEFT + inner_w * i / span, 1),
            y=round(PAD_Y + inner_h * (1 - float(v) / top), 1),
            label=labels[i],
            value=str(v),
        )
        for i, v in enumerate(values)
    ]


def revenue_chart(rows) -> dict:
    """Revenue (line) and orders (bars' line) per day, each scaled to its own maximum."""
    labels = [row.date.isoformat() for row in rows]
    revenue = _points([row.total_revenue for row in rows], labels)
    orders = _points([row.total_orders for row in rows], labels)
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "revenue": revenue,
        "orders": orders,
        "revenue_path": " ".join(f"{p.x},{p.y}" for p in revenue),
        "orders_path": " ".join(f"{p.x},{p.y}" for p in orders),
        "max_revenue": max((row.total_revenue for row in rows), default=Decimal(0)),
        "max_orders": max((row.total_orders for row in rows), default=0),
        "first": labels[0] if labels else "",
        "last": labels[-1] if labels else "",
        "baseline": HEIGHT - PAD_Y,
        "left": PAD_LEFT,
        "right": WIDTH - PAD_RIGHT,
    }
