from django.urls import path

from . import views

urlpatterns = [
    path("credentials/", views.UserCredentialListView.as_view(), name="credentials-list"),
    path("credentials/<uuid:credential_uuid>/", views.UserCredentialDetailView.as_view(), name="credentials-detail"),
]
