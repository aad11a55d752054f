"""The importer's error types: what the source service answered (SourceError) and what the import's
own state refused (CredentialImportError). Messages never carry the token or the client secret."""

from __future__ import annotations

import enum

from apps.core.api import DomainError


class ImportErrorCode(enum.Enum):
    UNAUTHORIZED = "unauthorized"  # 401: the token (or the LMS client id and secret) refused
    FORBIDDEN = "forbidden"  # 403: the token's user may not list every credential
    NOT_FOUND = "not_found"  # 404: not a credentials service, or a page past the end
    REFUSED = "refused"  # another 4xx
    UNAVAILABLE = "unavailable"  # 5xx, 429, no answer or a lost connection, after every retry
    UNEXPECTED = "unexpected"  # an answer the importer cannot read
    OUT_OF_ORDER = "out_of_order"  # a page that is not the checkpoint's next one


class SourceError(DomainError):
    """A call to the source service (or to the LMS for a token) failed. `status` is the HTTP status
    when one came; `retryable` says whether the same call may succeed later."""

    def __init__(
        self, message: str, *, code: ImportErrorCode, status: int | None = None, retryable: bool = False
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.retryable = retryable


class CredentialImportError(DomainError):
    pass
