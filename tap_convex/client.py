"""HTTP access to a deployment's streaming-export API: auth, timeouts, retries, error meaning.

Transport only: what a page body holds is :mod:`tap_convex.pages`' business, passed in as
the ``decode`` of a request (so a truncated body is retried like a dropped connection).

Every request has a timeout. 429, 5xx, timeouts and dropped or truncated responses are
retried with exponential backoff and jitter (honouring ``Retry-After``) up to a bound; auth,
permission and argument errors are not. The deploy key never appears in a message.
"""

from __future__ import annotations

import email.utils
import logging
import random
import ssl
import time
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx
import msgspec

from tap_convex import __version__
from tap_convex.errors import (
    ConfigError,
    ConvexApiError,
    ConvexAuthError,
    PositionExpiredError,
    ProtocolError,
)
from tap_convex.pages import DeltasPage, SnapshotPage, deltas_page, snapshot_page
from tap_convex.sync_pages import DataSyncPage, data_sync_page

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_convex.settings import Settings

WIRE_FORMAT = "convex_encoded_json"
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
EXPIRED_CODES = frozenset(
    {"InvalidWindowToReadDocuments", "SnapshotTooOld", "DataSyncCursorExpired"}
)
_AUTH_HINTS = {
    "BadAdminKey": "the deploy key was rejected; check deploy_key belongs to this deployment",
    "BadDeployKey": "no usable deploy key was sent; set deploy_key to a deploy key",
    "OperationNotPermitted": "the deploy key lacks the deployment:data:view permission",
    "StreamingExportNotEnabled": "streaming export is not enabled for this deployment "
    "(it needs a Convex Pro plan)",
}

logger = logging.getLogger("tap_convex")


class ConvexClient:
    """One keep-alive connection pool to a deployment; safe to reuse for a whole sync."""

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._settings = settings
        self._sleep = sleep
        self._secret = settings.deploy_key
        self.requests_made = 0
        self._http = httpx.Client(
            base_url=settings.deployment_url + "/api/",
            timeout=settings.request_timeout,
            verify=_tls_context(settings.ca_bundle),
            headers={
                "Authorization": f"Convex {settings.deploy_key}",
                "Convex-Client": f"tap-convex-{__version__}",
            },
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # ---- endpoints ------------------------------------------------------------------------

    def test_connection(self) -> None:
        """Raise unless the deployment answers the streaming-export API with this key."""
        self._request("GET", "test_streaming_export_connection")

    def table_column_names(self) -> Any:
        """``get_table_column_names``: every table's columns, by component."""
        return self._request("GET", "get_table_column_names")

    def json_schemas(self) -> Any:
        """``json_schemas``: every table's inferred schema, by component."""
        return self._request(
            "GET",
            "json_schemas",
            params={"deltaSchema": "true", "format": WIRE_FORMAT, "byComponent": "true"},
        )

    def list_snapshot(
        self,
        snapshot: int | None,
        cursor: str | None,
        selection: dict[str, Any],
        *,
        keep_encoded: bool = False,
    ) -> SnapshotPage:
        """One page; ``keep_encoded`` asks for plain pages' values as encoded documents."""
        page: SnapshotPage = self._request(
            "POST",
            "list_snapshot",
            json={
                "snapshot": snapshot,
                "cursor": cursor,
                "selection": selection,
                "format": WIRE_FORMAT,
            },
            decode=partial(snapshot_page, keep_encoded=keep_encoded),
        )
        return page

    def document_deltas(
        self, cursor: int, selection: dict[str, Any], *, keep_encoded: bool = False
    ) -> DeltasPage:
        """One page of the change log after ``cursor``."""
        page: DeltasPage = self._request(
            "POST",
            "document_deltas",
            json={"cursor": cursor, "selection": selection, "format": WIRE_FORMAT},
            decode=partial(deltas_page, keep_encoded=keep_encoded),
        )
        return page

    def data_sync(
        self, cursor: str | None, selection: dict[str, Any], *, keep_encoded: bool = False
    ) -> DataSyncPage:
        """One page of the Data Sync API (beta) after ``cursor`` (None: a cold start)."""
        body: dict[str, Any] = {"selection": selection}
        if cursor is not None:
            body["cursor"] = cursor
        decode = partial(data_sync_page, keep_encoded=keep_encoded)
        page: DataSyncPage = self._request("POST", "v1/data/sync", json=body, decode=decode)
        return page

    def data_sync_cursor_from_deltas(self, cursor: int, selection: dict[str, Any]) -> str:
        """The data-sync cursor that continues a ``document_deltas`` position."""
        answer = self._request(
            "POST",
            "data_sync_cursor_from_deltas",
            json={"cursor": cursor, "selection": selection},
        )
        token = answer.get("cursor") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise ProtocolError("data_sync_cursor_from_deltas answered without a cursor.")
        return token

    # ---- transport ------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        decode: Callable[[bytes], Any] = msgspec.json.decode,
    ) -> Any:
        """The body of a 200 answer, parsed by ``decode``."""
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                self.requests_made += 1
                response = self._http.request(
                    method,
                    endpoint,
                    params=params,
                    content=msgspec.json.encode(json) if json is not None else None,
                    headers={"Content-Type": "application/json"} if json is not None else None,
                )
                status = response.status_code
                if status == httpx.codes.OK:
                    try:
                        return decode(response.content)
                    except msgspec.DecodeError:
                        problem = f"{endpoint} returned malformed JSON"
                else:
                    self._raise_if_final(endpoint, response)
                    problem = f"{endpoint} answered {status}{self._describe(response)}"
                    retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            except httpx.TimeoutException:
                problem = f"{endpoint} timed out after {self._settings.request_timeout:g} s"
            except httpx.TransportError as error:
                if "CERTIFICATE_VERIFY_FAILED" in str(error):
                    raise ConvexApiError(
                        f"The TLS certificate of {self._settings.deployment_url} could not be "
                        "verified. If the deployment uses a private certificate authority, set "
                        "ca_bundle to its PEM file."
                    ) from None
                problem = f"{endpoint} failed: {type(error).__name__}: {self._scrub(str(error))}"
            if attempt > self._settings.max_retries:
                raise ConvexApiError(
                    f"{problem}; gave up after {attempt} attempts. Check that "
                    f"{self._settings.deployment_url} is reachable and healthy, or raise "
                    "max_retries."
                )
            delay = self._backoff(attempt, retry_after)
            logger.warning(
                "%s; retrying in %.1f s (attempt %d of %d).",
                problem,
                delay,
                attempt + 1,
                self._settings.max_retries + 1,
            )
            self._sleep(delay)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        ceiling = self._settings.retry_backoff_max_seconds
        if retry_after is not None:
            return min(retry_after, ceiling)
        base = min(ceiling, self._settings.retry_backoff_seconds * 2.0 ** (attempt - 1))
        return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret

    def _raise_if_final(self, endpoint: str, response: httpx.Response) -> None:
        status = response.status_code
        if status in RETRYABLE_STATUSES:
            return
        code, message = self._error_body(response)
        detail = f"{endpoint} answered {status} {code or ''}".rstrip()
        if status in (401, 403):
            hint = _AUTH_HINTS.get(code or "", "the deploy key was refused")
            raise ConvexAuthError(f"{detail}: {hint}.", status=status, code=code)
        if code in EXPIRED_CODES:
            raise PositionExpiredError(f"{detail}: {message}", status=status, code=code)
        raise ConvexApiError(f"{detail}: {message}", status=status, code=code)

    def _error_body(self, response: httpx.Response) -> tuple[str | None, str]:
        try:
            body = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            return body["code"], self._scrub(str(body.get("message", "")))
        snippet = " ".join(response.text.split())[:200]
        return None, self._scrub(snippet or "(empty body)")

    def _describe(self, response: httpx.Response) -> str:
        code, message = self._error_body(response)
        return f" {code}: {message}" if code else f": {message}"

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text


def _tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificates are always verified: against the system's CAs, or the given bundle."""
    if ca_bundle is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"ca_bundle {ca_bundle!r} is not a readable PEM file: {error}") from None


def _retry_after_seconds(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(header) if header else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())
