from django.urls import path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("health/", views.health, name="health"),
    path("login/", views.login, name="login"),
    path("", RedirectView.as_view(pattern_name="api-docs", permanent=False), name="home"),
]
