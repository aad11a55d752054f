from django.urls import path

from .webhooks import issuer_webhook

app_name = "badge_issuing"
urlpatterns = [
    path("webhooks/<uuid:organization_uuid>/", issuer_webhook, name="webhook"),
]
