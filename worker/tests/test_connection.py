"""The one connection factory: what REDIS_SENTINELS & co. become, and bad values refused
with a message naming the setting."""

import pytest

from tests.helpers import manage_env, run_manage
from worker.connection import connection_config, describe, parse_sentinels


def test_sentinels_parse_as_host_port_pairs():
    assert parse_sentinels("10.0.0.5:26379, 10.0.0.6:26380,") == [("10.0.0.5", 26379), ("10.0.0.6", 26380)]
    assert parse_sentinels("") == []


@pytest.mark.parametrize("bad", ["10.0.0.5", "10.0.0.5:", ":26379", "h:port", "h:70000"])
def test_a_sentinel_without_a_port_is_refused_by_name(bad):
    with pytest.raises(ValueError, match=f"REDIS_SENTINELS: '{bad}' is not host:port"):
        parse_sentinels(bad)


def test_sentinels_win_over_the_url_with_passwords_db_and_tls():
    config = connection_config(
        url="redis://ignored:6379/0",
        sentinels=[("s1", 26379)],
        master_name="bookstore",
        password="pw",
        sentinel_password="spw",
        db=3,
        ssl=True,
        ssl_ca_certs="/etc/ca.pem",
    )
    assert "URL" not in config
    assert config["SENTINELS"] == [("s1", 26379)] and config["MASTER_NAME"] == "bookstore"
    assert config["DB"] == 3 and config["PASSWORD"] == "pw"
    assert config["SENTINEL_KWARGS"]["password"] == "spw"
    for kwargs in (config["SENTINEL_KWARGS"], config["CONNECTION_KWARGS"]):
        assert kwargs["ssl"] is True and kwargs["ssl_cert_reqs"] == "required"
        assert kwargs["ssl_ca_certs"] == "/etc/ca.pem"
    assert connection_config(url="redis://h:1/2") == {"URL": "redis://h:1/2"}


def test_every_queue_of_django_rq_gets_the_sentinel_settings():
    result = run_manage(
        "shell",
        "--verbosity=0",
        "-c",
        "from django.conf import settings; "
        "print(sorted({(tuple(map(tuple, c['SENTINELS'])), c['MASTER_NAME'], c['DB'], 'URL' in c) "
        "for c in settings.RQ_QUEUES.values()}))",
        env=manage_env(
            REDIS_SENTINELS="10.0.0.5:26379,10.0.0.6:26379", REDIS_MASTER_NAME="shop", REDIS_DB="2"
        ),
    )
    assert result.stdout.strip() == "[((('10.0.0.5', 26379), ('10.0.0.6', 26379)), 'shop', 2, False)]", (
        result.stderr
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDIS_SENTINELS": "10.0.0.5"}, "REDIS_SENTINELS: '10.0.0.5' is not host:port"),
        ({"REDIS_SENTINELS": "10.0.0.5:26379"}, "REDIS_MASTER_NAME is required with REDIS_SENTINELS"),
    ],
)
def test_bad_sentinel_settings_stop_start_up_with_a_message(env, message):
    result = run_manage("check", env=manage_env(**env))
    assert result.returncode != 0
    assert message in result.stderr


def test_the_address_in_messages_never_carries_a_password(settings):
    settings.REDIS_URL = "redis://:s3cret@10.1.2.3:6380/4"
    assert describe() == "10.1.2.3:6380/4"
    settings.REDIS_SENTINELS, settings.REDIS_MASTER_NAME = [("10.0.0.5", 26379)], "shop"
    settings.REDIS_PASSWORD = settings.REDIS_SENTINEL_PASSWORD = "s3cret"
    assert describe() == "master 'shop' of sentinels 10.0.0.5:26379/0"
