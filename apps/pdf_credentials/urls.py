from django.urls import path

from . import views

app_name = "pdf_credentials"
urlpatterns = [
    path("<uuid:verification_uuid>/", views.verify, name="verify"),
    path("<uuid:verification_uuid>/pdf/", views.download, name="download"),
]
