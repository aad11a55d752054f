from django.urls import re_path

from . import views

app_name = "credentials"

urlpatterns = [
    re_path(r"^(?P<credential_uuid>[0-9a-f]{32})/$", views.certificate, name="certificate"),
]
