from django.urls import path

from . import views

urlpatterns = [
    path("badges/", views.BadgeListView.as_view(), name="badges-list"),
    path("badges/progress/", views.BadgeProgressListView.as_view(), name="badges-progress"),
]
