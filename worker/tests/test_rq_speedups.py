"""worker/rq_speedups.py returns what rq's own helpers return."""

import datetime
import random

import pytest
from rq.serializers import DefaultSerializer, JSONSerializer, PickleSerializer

from worker import rq_speedups


def test_utcparse_reads_rq_s_formats_as_rq_does():
    rng = random.Random(14)
    base = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    stamps = [base + datetime.timedelta(seconds=rng.uniform(0, 40 * 365 * 86400)) for _ in range(2000)]
    stamps += [base, base.replace(microsecond=1), base.replace(microsecond=999999)]
    for stamp in stamps:
        for text in (stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), stamp.strftime("%Y-%m-%dT%H:%M:%SZ")):
            ours, theirs = rq_speedups.utcparse(text), rq_speedups._rq_utcparse(text)
            assert ours == theirs and ours.tzinfo == theirs.tzinfo == datetime.UTC, text


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "2026-12-01 02:00:00.123456Z", "2026-12-01T02:00:00.123456", "2026-13-01T02:00:00Z"],
)
def test_utcparse_refuses_what_rq_refuses(text):
    with pytest.raises(ValueError):
        rq_speedups._rq_utcparse(text)
    with pytest.raises(ValueError):
        rq_speedups.utcparse(text)


def test_resolve_serializer_answers_json_at_once_and_leaves_the_rest_to_rq():
    assert rq_speedups.resolve_serializer(JSONSerializer) is JSONSerializer
    assert rq_speedups.resolve_serializer(None) is rq_speedups._rq_resolve_serializer(None)
    assert rq_speedups.resolve_serializer(PickleSerializer) is PickleSerializer
    assert rq_speedups.resolve_serializer("rq.serializers.JSONSerializer") is JSONSerializer
    assert rq_speedups.resolve_serializer(DefaultSerializer) is DefaultSerializer
    with pytest.raises(NotImplementedError):
        rq_speedups.resolve_serializer(object())  # no dumps/loads: rq's error
