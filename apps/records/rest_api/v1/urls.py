from django.urls import path

from . import views

# Path ids are plain strings so a malformed one reaches the input serializer and gets a 400 naming
# the field, rather than a bare 404 from the URL resolver.
urlpatterns = [
    path("records/programs/", views.ProgramRecordListView.as_view(), name="records-program-list"),
    path(
        "records/programs/<str:program_uuid>/", views.ProgramRecordDetailView.as_view(), name="records-program-detail"
    ),
    path(
        "records/programs/<str:program_uuid>/share/",
        views.ProgramRecordShareCreateView.as_view(),
        name="records-program-share",
    ),
    path("records/shares/<str:share_uuid>/", views.ProgramRecordShareRevokeView.as_view(), name="records-share"),
    path(
        "records/public/<str:share_uuid>/",
        views.SharedProgramRecordDetailView.as_view(),
        name="records-shared-detail",
    ),
]
