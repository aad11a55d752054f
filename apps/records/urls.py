from django.urls import path

from . import views

urlpatterns = [
    path("public/<uuid:share_uuid>/", views.SharedProgramRecordPageView.as_view(), name="records-shared-page"),
    path("public/<uuid:share_uuid>/csv/", views.SharedProgramRecordCsvView.as_view(), name="records-shared-csv"),
]
