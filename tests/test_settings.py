"""Settings come from the environment; production refuses to start without a key."""

import secrets

from bookstore.settings import MISSING_SECRET_KEY
from tests.helpers import manage_env, run_manage


def production_env(**overrides):
    """The real settings module as production runs it: DEBUG off, a key and a metrics
    token set; ``overrides`` change or (None) remove variables."""
    base = {
        "DJANGO_SETTINGS_MODULE": "bookstore.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "METRICS_TOKEN": "metrics-" + "t" * 32,
    }
    return manage_env(**{**base, **overrides})


def test_without_secret_key_and_debug_off_start_up_stops_with_a_clear_message():
    result = run_manage("check", env=production_env(SECRET_KEY=None, DEBUG=None))
    assert result.returncode != 0
    assert MISSING_SECRET_KEY in result.stderr
    # An empty value is no key either.
    result = run_manage("check", env=production_env(SECRET_KEY=""))
    assert result.returncode != 0
    assert MISSING_SECRET_KEY in result.stderr


def test_with_a_secret_key_and_debug_off_start_up_succeeds():
    result = run_manage("check", env=production_env())
    assert result.returncode == 0, result.stderr


def test_debug_on_runs_without_a_key_for_local_development():
    result = run_manage("check", env=production_env(SECRET_KEY=None, DEBUG="true"))
    assert result.returncode == 0, result.stderr


def test_time_zone_defaults_to_ho_chi_minh_with_aware_datetimes(settings):
    assert settings.USE_TZ is True
    result = run_manage(
        "shell",
        "--verbosity=0",
        "-c",
        "from django.conf import settings; print(settings.TIME_ZONE)",
        env=manage_env(TIME_ZONE=None),
    )
    assert result.stdout.strip() == "Asia/Ho_Chi_Minh", result.stderr


def test_every_queue_serves_json_on_redis_url_and_enqueues_after_commit(settings):
    assert set(settings.RQ_QUEUES) == {"critical", "high", "default", "low"}
    for config in settings.RQ_QUEUES.values():
        assert config["URL"] == settings.REDIS_URL
        assert config["SERIALIZER"] == "rq.serializers.JSONSerializer"
    assert settings.RQ["COMMIT_MODE"] == "on_db_commit"


def test_env_example_lists_every_variable_the_settings_read():
    import re

    from tests.helpers import PROJECT_DIR

    source = (PROJECT_DIR / "bookstore" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', source))
    example = (PROJECT_DIR / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z_]+)=", example, flags=re.MULTILINE))
    assert read, "no variables found in settings.py"
    assert read <= listed, f"missing from .env.example: {sorted(read - listed)}"


def test_without_metrics_token_and_debug_off_start_up_stops_with_a_clear_message():
    from bookstore.settings import MISSING_METRICS_TOKEN

    result = run_manage("check", env=production_env(METRICS_TOKEN=None))
    assert result.returncode != 0
    assert MISSING_METRICS_TOKEN in result.stderr


def test_production_settings_pass_djangos_deployment_checklist():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=production_env(ALLOWED_HOSTS="shop.example.com", SECURE_SSL_REDIRECT=None),
    )
    assert result.returncode == 0, result.stdout + result.stderr
