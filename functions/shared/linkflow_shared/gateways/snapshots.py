"""S3, as the reconcile workflow uses it: snapshot shards (JSONL) and reports."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import ReconcileStorageUnavailable, error_code

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3Snapshots:
    """JSON lines and JSON documents under one bucket."""

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def put_lines(self, key: str, records: Iterable[dict[str, Any]]) -> None:
        body = "".join(json.dumps(record, separators=(",", ":"), default=str) + "\n" for record in records)
        self._call(lambda: self._s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode()))

    def lines(self, key: str) -> Iterator[dict[str, Any]]:
        """The records of ``key``; none if the object does not exist."""
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return
            raise ReconcileStorageUnavailable(f"S3 GetObject {key} failed ({error_code(exc)})") from exc
        except BotoCoreError as exc:
            raise ReconcileStorageUnavailable(f"S3 could not be reached: {type(exc).__name__}") from exc
        for line in answer["Body"].read().decode().splitlines():
            if line.strip():
                yield json.loads(line)

    def put_json(self, key: str, document: Any) -> None:
        body = json.dumps(document, indent=2, default=str).encode()
        self._call(lambda: self._s3.put_object(Bucket=self.bucket, Key=key, Body=body,
                                               ContentType="application/json"))

    def get_json(self, key: str) -> Any:
        answer = self._call(lambda: self._s3.get_object(Bucket=self.bucket, Key=key))
        return json.loads(answer["Body"].read())

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found += [obj["Key"] for obj in page.get("Contents", [])]
        return found

    @staticmethod
    def _call(action: Any) -> Any:
        try:
            return action()
        except ClientError as exc:
            raise ReconcileStorageUnavailable(f"S3 refused the call ({error_code(exc)})") from exc
        except BotoCoreError as exc:
            raise ReconcileStorageUnavailable(f"S3 could not be reached: {type(exc).__name__}") from exc
