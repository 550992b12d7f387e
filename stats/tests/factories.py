import datetime

import factory
from factory.django import DjangoModelFactory

from stats.models import DailyStatistics


class DailyStatisticsFactory(DjangoModelFactory):
    class Meta:
        model = DailyStatistics

    date = factory.Sequence(lambda n: datetime.date(2026, 1, 1) + datetime.timedelta(days=n))
