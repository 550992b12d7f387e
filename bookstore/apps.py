from django.apps import AppConfig


class BookstoreConfig(AppConfig):
    """The project itself: project-wide commands (seed_demo) and views (health)."""

    name = "bookstore"
    verbose_name = "Bookstore"
