"""The statistics changelist: money reads the same in the table and in the chart, and
counts agree with their nouns."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from stats.formatting import format_money
from stats.tests.factories import DailyStatisticsFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:stats_dailystatistics_changelist"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="stats-admin", is_staff=True, is_superuser=True))
    return client


def test_money_is_formatted_with_thousands_separators_and_two_decimals():
    assert format_money(Decimal("416062150")) == "416,062,150.00\N{NO-BREAK SPACE}₫"
    assert format_money("12345678.5") == "12,345,678.50\N{NO-BREAK SPACE}₫"
    assert format_money(0) == "0.00\N{NO-BREAK SPACE}₫"
    assert format_money(None) == "None"


def test_the_table_and_the_chart_show_money_the_same_way(staff_client):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    DailyStatisticsFactory(
        date=yesterday,
        total_revenue=Decimal("416062150.00"),
        net_revenue=Decimal("400000000.50"),
        total_orders=1,
    )
    body = staff_client.get(reverse(CHANGELIST)).content.decode()
    shown = "416,062,150.00\N{NO-BREAK SPACE}₫"
    table = body[body.index('id="result_list"') :]
    assert f'<td class="field-revenue">{shown}</td>' in table
    assert '<td class="field-net">400,000,000.50\N{NO-BREAK SPACE}₫</td>' in table
    assert f"<title>{yesterday.isoformat()}: {shown}</title>" in body  # the chart's point
    assert f"max {shown}</text>" in body
    assert "416062150.00" not in table
    assert re.search(r'data-value="416062150.00"', body)  # the raw value stays data for scripts


def test_the_changelist_shows_when_each_row_was_computed(staff_client):
    DailyStatisticsFactory(date=timezone.localdate() - dt.timedelta(days=1))
    body = staff_client.get(reverse(CHANGELIST)).content.decode()
    assert "column-computed_at" in body and 'class="field-computed_at' in body


def test_counts_agree_with_their_nouns(staff_client):
    DailyStatisticsFactory(date=timezone.localdate() - dt.timedelta(days=1), total_orders=1)
    body = staff_client.get(reverse(CHANGELIST)).content.decode()
    assert "1 orders" not in body and "max 1 order</text>" in body and ": 1 order</title>" in body
    assert "last 30 days" in body
    assert "1 days" not in body
