from django.apps import AppConfig


class PdfCredentialsConfig(AppConfig):
    name = "apps.pdf_credentials"
    label = "pdf_credentials"
    verbose_name = "PDF credentials: types, configurations, assets"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
