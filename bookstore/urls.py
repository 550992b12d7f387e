from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from bookstore import views

admin.site.site_header = "Bookstore staff"
admin.site.site_title = "Bookstore staff"
admin.site.index_title = "Store and background jobs"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("health", views.health, name="health"),
    path("health/worker", views.health_worker, name="health-worker"),
    path("metrics", views.metrics, name="metrics"),
]

if settings.RQ_DASHBOARD_ENABLED:
    # django-rq's views are wrapped in staff_member_required.
    urlpatterns += [
        # django-rq also takes RQ_API_TOKEN in the URL (stats.json/<token>), where proxies
        # and logs keep it. Only the Authorization header is accepted here.
        re_path(r"^django-rq/stats\.json/[\w]+/?$", views.not_found),
        path("django-rq/", include("django_rq.urls")),
    ]
