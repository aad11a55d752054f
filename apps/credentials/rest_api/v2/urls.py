"""openedx/credentials' /api/v2/ as the LMS calls it: same paths, bodies and answers."""

from django.urls import path

from . import course_certificates, grades, views

app_name = "credentials_v2"

urlpatterns = [
    path("credentials/", views.CredentialListView.as_view(), name="credentials-list"),
    path("credentials/<uuid:credential_uuid>/", views.CredentialDetailView.as_view(), name="credentials-detail"),
    path("grades/", grades.GradeView.as_view(), name="grades"),
    path("course_certificates/", course_certificates.CourseCertificateView.as_view(), name="course-certificates"),
    path(
        "course_certificates/<str:course_id>/",
        course_certificates.CourseCertificateDetailView.as_view(),
        name="course-certificates-detail",
    ),
]
