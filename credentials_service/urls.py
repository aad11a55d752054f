from django.apps import apps
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("apps.core.urls")),
    path("api/v1/", include("apps.credentials.rest_api.v1.urls")),
    path("api/v1/", include("apps.records.rest_api.v1.urls")),
    path("api/v1/", include("apps.badges.rest_api.v1.urls")),
    # The LMS's calls, as openedx/credentials answers them (a drop-in for an existing Open edX site).
    path("api/v2/", include("apps.credentials.rest_api.v2.urls")),
    path("api/credentials/v1/", include("apps.credentials.rest_api.lms_v1.urls")),
    path("records/", include("apps.records.urls")),
    path("credentials/verify/", include("apps.pdf_credentials.urls")),
    path("credentials/", include("apps.credentials.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
if apps.is_installed("apps.badges.issuing"):
    urlpatterns.append(path("badges/issuing/", include("apps.badges.issuing.urls")))
