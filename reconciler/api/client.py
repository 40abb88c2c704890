"""A small client of the impact.com Brand API: GET with retries, pagination, one-line failures.

Owns: HTTP Basic authentication with the Account SID and Auth Token, ``Accept:
application/json``, timeouts, retries with backoff for 429 and 5xx (honouring ``Retry-After``)
and for connections that fail or time out, following ``@nextpageuri`` from page to page, and
turning every failure into one ``ApiError`` line that names what to do. Every response body
is kept byte for byte (``Page.raw``) beside its parsed JSON, so a snapshot written from it is
exactly what the platform said.

The Auth Token is held only by the ``httpx`` client's authentication; no message, exception,
log line or file this module makes contains it (``redact`` removes it from any text that
comes back from the server, in case an error page echoes it).
"""

from __future__ import annotations

import email.utils
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from reconciler.errors import EXIT_CANNOT_RUN, ReconcilerError

DEFAULT_BASE_URL = "https://api.impact.com"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 120.0  # seconds: a longer Retry-After is waited this long at most
MAX_BODY_BYTES = 256 * 1024 * 1024  # one page of JSON; the API pages far below this


class ApiError(ReconcilerError):
    """The API could not be used: one line, exit 2."""

    exit_code = EXIT_CANNOT_RUN


class NotFound(ApiError):
    """HTTP 404: the caller says what was not found."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How the client talks to the API (``from_env`` reads them from the environment)."""

    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0  # seconds for each request
    retries: int = 4  # further attempts after a failed one
    backoff: float = 1.0  # seconds before the first retry; doubled each time, at most 30 s

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """``RECONCILER_IMPACT_API`` (base URL), ``RECONCILER_API_TIMEOUT``,
        ``RECONCILER_API_RETRIES``, ``RECONCILER_API_BACKOFF``."""
        env = os.environ if env is None else env
        base = env.get("RECONCILER_IMPACT_API", "").strip() or DEFAULT_BASE_URL
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ApiError(
                f"RECONCILER_IMPACT_API {base!r} is not an http(s) URL; unset it to use "
                f"{DEFAULT_BASE_URL}"
            )

        def number(name: str, default: float, low: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                value = low - 1
            if value < low:
                raise ApiError(f"{name} {raw!r} is not a number of at least {low:g}")
            return value

        default = cls()
        return cls(
            base_url=base.rstrip("/"),
            timeout=number("RECONCILER_API_TIMEOUT", default.timeout, 0.001),
            retries=int(number("RECONCILER_API_RETRIES", default.retries, 0)),
            backoff=number("RECONCILER_API_BACKOFF", default.backoff, 0),
        )


@dataclass(frozen=True, slots=True)
class Page:
    """One response: its body as sent (``raw``), parsed (``data``), and where it came from."""

    raw: bytes
    data: Any
    path: str  # the path and query asked for, relative to the API host


class Client:
    """GET requests against the Brand API of one account (``sid``)."""

    def __init__(
        self,
        sid: str,
        token: str,
        settings: Settings | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_request: Callable[[str], None] | None = None,
    ) -> None:
        self.sid = sid
        self.settings = settings or Settings()
        self._secrets = tuple(s for s in (token,) if s)
        self._sleep = sleep
        self._on_request = on_request or (lambda _path: None)
        self.requests = 0  # HTTP requests made (retries included)
        self._http = httpx.Client(
            base_url=self.settings.base_url,
            auth=httpx.BasicAuth(sid, token),
            headers={"Accept": "application/json", "User-Agent": "reconciler"},
            timeout=httpx.Timeout(self.settings.timeout),
            follow_redirects=False,
            trust_env=True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def redact(self, text: str) -> str:
        """``text`` with the Auth Token (should a server echo it) replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @property
    def account_path(self) -> str:
        return f"/Advertisers/{self.sid}"

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Page:
        """GET ``path`` (relative to the API host, query included or in ``params``): the
        parsed JSON and its bytes. Retries what may pass; raises ``ApiError`` otherwise."""
        attempt = 0
        while True:
            self.requests += 1
            self._on_request(path)
            try:
                response, raw = self._send(path, params)
            except httpx.TimeoutException:
                failure = (
                    f"no answer from {self._host()} within {self.settings.timeout:g} s "
                    f"({attempt + 1} tries); check the network, or raise RECONCILER_API_TIMEOUT"
                )
                wait = None
            except httpx.TransportError as exc:
                failure = (
                    f"cannot reach {self._host()} ({self.redact(type(exc).__name__)}: "
                    f"{self.redact(str(exc))}; {attempt + 1} tries); check the network and "
                    "RECONCILER_IMPACT_API"
                )
                wait = None
            else:
                if response.status_code < 300:
                    return self._page(response, raw, path)
                if response.status_code not in RETRY_STATUSES:
                    raise self._refused(response, raw, path)
                failure = (
                    f"{path}: {self._host()} answered HTTP {response.status_code} "
                    f"{attempt + 1} times; try again later"
                )
                wait = _retry_after(response.headers.get("Retry-After"))
            if attempt >= self.settings.retries:
                raise ApiError(self.redact(failure))
            delay = wait if wait is not None else min(30.0, self.settings.backoff * 2**attempt)
            self._sleep(delay)
            attempt += 1

    def pages(self, path: str, params: Mapping[str, str] | None = None) -> Iterator[Page]:
        """Every page of a list, following ``@nextpageuri`` (never building page URLs)."""
        seen: set[str] = set()
        page = self.get(path, params)
        while True:
            yield page
            following = page.data.get("@nextpageuri") if isinstance(page.data, dict) else None
            if not following:
                return
            following = str(following)
            if following in seen:
                raise ApiError(
                    f"the API sent page {following!r} twice in one list; run the command again"
                )
            seen.add(following)
            page = self.get(_relative(following, self.settings.base_url))

    # ----------------------------------------------------------------------- internals

    def _host(self) -> str:
        return urlsplit(self.settings.base_url).netloc

    def _send(self, path: str, params: Mapping[str, str] | None) -> tuple[httpx.Response, bytes]:
        """One GET; its body read up to ``MAX_BODY_BYTES`` (after any content encoding is
        undone), never more."""
        too_big = ApiError(f"{path}: the answer is over {MAX_BODY_BYTES:,} bytes; not read")
        query = dict(params) if params else None
        with self._http.stream("GET", path, params=query) as response:
            declared = response.headers.get("Content-Length", "").strip()
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                raise too_big
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise too_big
                chunks.append(chunk)
        return response, b"".join(chunks)

    def _page(self, response: httpx.Response, raw: bytes, path: str) -> Page:
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise ApiError(
                self.redact(
                    f"{path}: the API answered with {kind or 'no content type'} that is not "
                    f"JSON ({_snippet(raw)}); check RECONCILER_IMPACT_API, or try again later"
                )
            ) from None
        if not isinstance(data, dict):
            raise ApiError(f"{path}: the API answered JSON that is not an object; not read")
        return Page(raw=raw, data=data, path=path)

    def _refused(self, response: httpx.Response, raw: bytes, path: str) -> ApiError:
        status = response.status_code
        if status in (401, 403):
            return ApiError(
                f"impact.com refused the credentials (HTTP {status}); check "
                "IMPACT_ACCOUNT_SID and IMPACT_AUTH_TOKEN (the Account SID and Auth Token of "
                "Settings → API in the brand account)"
            )
        if status == 404:
            return NotFound(f"{path}: not found (HTTP 404)")
        return ApiError(
            self.redact(
                f"{path}: the API answered HTTP {status} ({_snippet(raw)}); "
                "check the batch ID and RECONCILER_IMPACT_API"
            )
        )


def _relative(uri: str, base_url: str) -> str:
    """A paging URI as a path for the client: the API sends paths; a full URL is accepted only
    on the API's own host (never sending the credentials elsewhere)."""
    parts = urlsplit(uri)
    if parts.scheme or parts.netloc:
        if parts.netloc != urlsplit(base_url).netloc:
            raise ApiError(
                f"the API pointed the next page at another host ({parts.netloc}); not followed"
            )
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return uri if uri.startswith("/") else "/" + uri


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), capped."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def _snippet(raw: bytes, limit: int = 80) -> str:
    text = " ".join(raw[: limit * 4].decode("utf-8", errors="replace").split())
    if not text:
        return "an empty body"
    return repr(text[:limit] + ("…" if len(text) > limit else ""))
