"""Test settings: the real settings, plus speed-ups that only tests may use."""

import os

# Tests never serve traffic; a fixed key keeps them reproducible.
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-used-anywhere-else")
os.environ.setdefault("METRICS_TOKEN", "test-only-metrics-token")
# The test client and the test processes speak plain HTTP.
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

from bookstore.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
