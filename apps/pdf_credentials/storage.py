"""The S3 storage of PDF credentials (``PDF_STORAGE=s3``): django-storages' S3Storage, uploading each
file with one PutObject."""

from __future__ import annotations

import os
from typing import Any

from django.core.files.base import File
from storages.backends.s3 import S3Storage  # type: ignore[import-untyped]  # no type information shipped
from storages.utils import ReadBytesWrapper, clean_name, is_seekable  # type: ignore[import-untyped]


class PdfS3Storage(S3Storage):  # type: ignore[misc]  # django-storages ships no type information
    """S3Storage whose save sends the file in a single PutObject.

    S3Storage uploads through s3transfer's ``upload_fileobj``, made for large files: it starts and joins
    a thread pool for every file (``use_threads``) and would switch to a multipart upload past
    ``multipart_threshold`` (8 MiB). A PDF credential is well under a megabyte, so that machinery only
    costs time: here the bytes go in one request. Names are cleaned and normalised, and the write
    parameters (ContentType from the name, ACL, AWS_S3_OBJECT_PARAMETERS, gzip) chosen, as S3Storage
    chooses them. The client is this thread's (``connection`` is thread-local in django-storages), so
    a thread that uploads keeps its own connection pool."""

    def _save(self, name: str, content: File[Any]) -> str:
        cleaned_name = clean_name(name)
        name = self._normalize_name(cleaned_name)
        params = self._get_write_parameters(name, content)
        if is_seekable(content):
            content.seek(0, os.SEEK_SET)
        body = ReadBytesWrapper(content)
        if self.gzip and params["ContentType"] in self.gzip_content_types and "ContentEncoding" not in params:
            body = self._compress_content(body)
            params["ContentEncoding"] = "gzip"
        self.connection.meta.client.put_object(Bucket=self.bucket_name, Key=name, Body=body.read(), **params)
        return str(cleaned_name)
