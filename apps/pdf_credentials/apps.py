from django.apps import AppConfig


class PdfCredentialsConfig(AppConfig):
    name = "apps.pdf_credentials"
    label = "pdf_credentials"
    verbose_name = "PDF credentials: types, configurations, assets"

    def ready(self) -> None:
        from apps.core.api import register_learner_merge

        from . import checks  # noqa: F401  (registers the system checks)
        from .learner_merge import merge_learner_pdfs

        # One learner's two records merged by core's identity resolution: their PDFs.
        register_learner_merge(merge_learner_pdfs)
