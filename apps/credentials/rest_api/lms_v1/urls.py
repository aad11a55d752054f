"""openedx/credentials' /api/credentials/v1/: the learner certificate status look-ups."""

from django.urls import path

from . import views

app_name = "credentials_lms_v1"

urlpatterns = [
    path("learner_cert_status/", views.LearnerCertStatusView.as_view(), name="learner-cert-status"),
    path("bulk_learner_cert_status/", views.BulkLearnerCertStatusView.as_view(), name="bulk-learner-cert-status"),
]
