"""Transport of the Graph API client: the one place where HTTP requests to Meta leave.

:class:`GraphTransport` holds the connection settings and :meth:`GraphTransport._request`, the single
choke point of every call; ``graph_api.GraphClient`` adds Meta's endpoints on top of it. Calls share one
pooled :class:`requests.Session` per process (all clients and threads); a loopback-only client (tests)
refuses any other host before a socket is opened.
"""

import http.cookiejar
import ipaddress
import json as json_module  # ``json`` is the name of a call's body
import logging
import os
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar

from .graph_errors import LoopbackOnlyError, WhatsAppApiError, _mask
from .meta_errors import as_int
from .sender import call_writing

# The client logs under one name, ``...tools.graph_api``: log handlers and tests' mute_logger target it.
_logger = logging.getLogger(__name__.rpartition(".")[0] + ".graph_api")

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_VERSION = "v23.0"
DEFAULT_TIMEOUT = (5, 20)  # (connect, read) seconds
TRANSFER_READ_TIMEOUT = 120  # read timeout floor for media uploads and downloads
MAX_DOWNLOAD_BYTES = (
    100 * 1024 * 1024
)  # largest media Meta accepts (documents): https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media
MAX_PAGES = 1000
MAX_REDIRECTS = 5
POOL_MAXSIZE = 64
USER_AGENT = "odoo-whatsapp/18.0"

_REDIRECT_STATUSES = (301, 302, 303, 307, 308)
#: Meta's media hosts (the ``url`` that ``GET /{media-id}`` answers): with the configured Graph host, the only
#: places an absolute URL is fetched, and so the only places the token is sent (https only)
META_MEDIA_DOMAINS = ("fbsbx.com", "fbcdn.net")


# --------------------------------------------------------------------------------------------
# Pooled sessions: one per process, shared by every client and thread
# --------------------------------------------------------------------------------------------

_session = None
_session_pid = None
_session_lock = threading.Lock()


def _new_session():
    session = requests.Session()
    adapter = _Adapter(pool_connections=8, pool_maxsize=POOL_MAXSIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # No per-request session state: refuse every cookie so the shared jar is never written.
    session.cookies = RequestsCookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    session.headers["User-Agent"] = USER_AGENT
    # the environment (proxies, CA bundle) is read once per host by environment_settings(), not at every call:
    # requests scans os.environ twice per request otherwise, a third of a send's cost in this process
    session.trust_env = False
    return session


_environment = {}


def environment_settings(url):
    """The proxies and CA bundle the environment sets for ``url``'s host (what requests reads at every call when
    ``trust_env`` is on), read once per scheme and host."""
    parts = urlsplit(url)
    key = (parts.scheme, parts.netloc)
    settings = _environment.get(key)
    if settings is None:
        origin = f"{parts.scheme}://{parts.netloc}/"
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        proxies = requests.utils.get_environ_proxies(origin)
        settings = _environment[key] = {
            "proxies": proxies,
            "proxy": requests.utils.select_proxy(origin, proxies),  # the one this host's calls go through
            "verify": verify,
        }
    return settings


_noting_classes = {}


def _noting_writes(connection_class):
    """``connection_class`` (a ``urllib3`` connection) asking the sender before a request's bytes are written
    (:func:`~.sender.call_writing`): the cap is held as Meta counts it, on arrival, not at the call's slot. A call
    too late for its slot raises there, nothing written (``urllib3`` closes the connection). A request and its
    body leave in one write: asked before it, the whole call leaves in time (``http.client`` writes the body
    apart, and a thread waiting for a core in between would make it arrive late)."""
    if connection_class not in _noting_classes:

        def send(self, data):
            if self.sock is None and self.auto_open:  # http.client connects on the first write: before asking
                self.connect()
            call_writing()
            super(noting, self).send(data)

        def _send_output(self, message_body=None, encode_chunked=False):
            if isinstance(message_body, bytes) and not encode_chunked:  # urllib3 1.x: http.client's request()
                self._buffer.extend((b"", message_body))
                message = b"\r\n".join(self._buffer)
                del self._buffer[:]
                self.send(message)
            else:
                super(noting, self)._send_output(message_body, encode_chunked)

        noting = type(
            connection_class.__name__, (connection_class,), {"send": send, "_send_output": _send_output}
        )
        _noting_classes[connection_class] = _noting_classes[noting] = noting
    return _noting_classes[connection_class]


class _Adapter(HTTPAdapter):
    """requests' adapter, with each host's pool of connections at hand for :meth:`GraphTransport._pooled_call`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pools_by_host = {}

    def pool_for(self, url, verify):
        """The pool of connections to ``url``'s host, its TLS set as :meth:`send` sets it."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, verify)
        pool = self.pools_by_host.get(key)
        if pool is None or pool.pool is None:  # new, or closed by the pool manager (least recently used)
            if hasattr(
                self, "get_connection_with_tls_context"
            ):  # requests >= 2.32.2 (get_connection deprecated)
                pool = self.get_connection_with_tls_context(requests.Request("GET", url), verify)
            else:
                pool = self.get_connection(url)
            self.cert_verify(pool, url, verify, None)
            pool.ConnectionCls = _noting_writes(pool.ConnectionCls)
            self.pools_by_host[key] = pool
        return pool


def _without_none(params):
    """Query parameters as requests sends them: a ``None`` value is no parameter."""
    return {key: value for key, value in params.items() if value is not None}


class _Answer:
    """What Meta answered, whichever way the call went: status, headers (case-insensitive), body (``None`` for a
    download not read yet: ``stream`` is the requests response to read it from, bounded)."""

    __slots__ = ("body", "headers", "method", "status", "stream", "url")

    def __init__(self, status, headers, body, method, url, stream=None):
        self.status, self.headers, self.body = status, headers, body
        self.method, self.url, self.stream = method, url, stream

    def close(self):
        if self.stream is not None:
            self.stream.close()


def get_session():
    """The process-wide pooled session (rebuilt after a fork: sockets are never shared)."""
    global _session, _session_pid
    pid = os.getpid()
    if _session is None or _session_pid != pid:
        with _session_lock:
            if _session is None or _session_pid != pid:
                _session, _session_pid = _new_session(), pid
    return _session


def is_loopback_url(url):
    """True when ``url`` targets 127.0.0.0/8, ::1 or localhost (no DNS lookup involved)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GraphTransport:
    """Connection settings and the one choke point of the Graph API client.

    Not used alone: ``graph_api.GraphClient`` subclasses it and documents the constructor's parameters.
    """

    def __init__(
        self,
        base_url=DEFAULT_BASE_URL,
        version=DEFAULT_VERSION,
        token="",
        timeout=DEFAULT_TIMEOUT,
        only_loopback=False,
        max_download_bytes=MAX_DOWNLOAD_BYTES,
        session=None,
    ):
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        version = (version or DEFAULT_VERSION).strip().strip("/")
        self.version = version if version.startswith("v") else f"v{version}"
        self._token = token or ""
        self.timeout = _as_timeout(timeout)
        self.only_loopback = bool(only_loopback)
        self.max_download_bytes = max_download_bytes
        self._session = session

    @property
    def session(self):
        return self._session or get_session()

    @property
    def transfer_timeout(self):
        return (self.timeout[0], max(self.timeout[1], TRANSFER_READ_TIMEOUT))

    # ----------------------------------------------------------------------------------------
    # Transport: the one choke point
    # ----------------------------------------------------------------------------------------

    def _request(
        self,
        method,
        path_or_url,
        *,
        params=None,
        json=None,
        data=None,
        files=None,
        headers=None,
        auth="bearer",
        raw=False,
        timeout=None,
    ):
        """Perform one Graph API call. **Every** HTTP request of the client goes through here.

        Test hook: patching this single method (e.g. ``patch.object(GraphClient, "_request")``)
        replaces Meta entirely. It receives the relative Graph path (``"1000001/messages"``,
        without base URL nor version) or an absolute URL (media downloads, paging links), and
        must return the decoded JSON body (a dict), or bytes when ``raw=True``.

        :param method: HTTP verb
        :param path_or_url: Graph path relative to ``{base_url}/{version}/``, or an absolute URL
        :param params: query string parameters
        :param json: JSON body
        :param data: form fields (dict) or raw body (bytes)
        :param files: multipart files, as for :mod:`requests`
        :param headers: extra headers for this call only
        :param auth: ``"bearer"`` (``Authorization: Bearer``), ``"oauth"`` (``Authorization: OAuth``,
            resumable upload) or ``None``
        :param raw: return the body as bytes (at most ``max_download_bytes``) instead of decoded JSON
        :param timeout: ``(connect, read)`` override of the client's timeout
        :raise WhatsAppApiError: for any failure (network, timeout, HTTP error, Meta error)
        """
        url = self._url(path_or_url)
        call_headers = dict(headers or {})
        if auth == "bearer":
            call_headers["Authorization"] = f"Bearer {self._token}"
        elif auth == "oauth":
            call_headers["Authorization"] = f"OAuth {self._token}"
        timeout = _as_timeout(timeout) if timeout is not None else self.timeout
        origin = urlsplit(url).netloc
        started = time.monotonic()
        for _hop in range(MAX_REDIRECTS + 1):
            self._check_host(url)
            environment = environment_settings(url)
            adapter = self.session.get_adapter(url)
            if (
                isinstance(adapter, _Adapter)  # this module's session (a caller's goes through its session)
                and files is None
                and data is None
                and not raw
                and (self.only_loopback or not environment["proxy"])
            ):
                pool = adapter.pool_for(url, environment["verify"])
                answer = self._pooled_call(
                    pool, adapter.max_retries, method, url, params, json, call_headers, timeout
                )
            else:
                answer = self._session_call(
                    method, url, params, json, data, files, call_headers, timeout, raw, environment
                )
            if answer.status in _REDIRECT_STATUSES and method in ("GET", "HEAD"):
                location = answer.headers.get("Location")
                answer.close()
                if location:
                    url, params = requests.compat.urljoin(url, location), None
                    if urlsplit(url).netloc != origin:  # never hand the token to another host
                        call_headers.pop("Authorization", None)
                    continue
            break
        else:
            raise WhatsAppApiError(f"Too many redirects from {self._safe_url(url)}.", category="transient")
        try:
            result = self._handle_response(answer, raw)
        finally:
            answer.close()
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug(
                "Graph API %s %s -> %s (%.0f ms)",
                method,
                self._safe_url(url),
                answer.status,
                (time.monotonic() - started) * 1000,
            )
        return result

    def _pooled_call(self, pool, retries, method, url, params, body, headers, timeout):
        """A JSON call straight on one of the session's pools of connections (its adapter's ``urllib3`` pool),
        without requests' per-call machinery (request preparation, cookies, hooks, response wrapping): two thirds
        of a send's cost in this process went there. Calls through a proxy, uploads and downloads take
        :meth:`_session_call`."""
        parts = urlsplit(url)
        query = "&".join(
            part for part in (parts.query, params and urlencode(_without_none(params), doseq=True)) if part
        )
        call_headers = {**self.session.headers, **headers}
        if body is not None:
            body = json_module.dumps(body, allow_nan=False).encode()
            call_headers["Content-Type"] = "application/json"
        try:
            response = pool.urlopen(
                method,
                f"{parts.path or '/'}?{query}" if query else parts.path or "/",
                body=body,
                headers=call_headers,
                retries=retries,
                redirect=False,
                assert_same_host=False,
                timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
                preload_content=True,
                decode_content=True,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            # urllib3 1.x makes a refused connection a kind of connect timeout (requests tells them apart too)
            timed_out = not isinstance(reason, urllib3.exceptions.NewConnectionError)
            if timed_out and isinstance(reason, urllib3.exceptions.TimeoutError | TimeoutError):
                raise self._transport_error("Meta did not answer in time", method, url, exc) from exc
            raise self._transport_error("Could not reach Meta", method, url, exc) from exc
        return _Answer(response.status, response.headers, response.data, method, url)

    def _session_call(self, method, url, params, json, data, files, headers, timeout, raw, environment):
        """A call through the session (proxies, multipart uploads, streamed downloads)."""
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                files=files,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                stream=raw,
                # a loopback-only client never goes through a proxy (it would be another host)
                proxies={"http": None, "https": None} if self.only_loopback else environment["proxies"],
                verify=environment["verify"],
            )
        except requests.exceptions.Timeout as exc:
            raise self._transport_error("Meta did not answer in time", method, url, exc) from exc
        except requests.exceptions.RequestException as exc:
            raise self._transport_error("Could not reach Meta", method, url, exc) from exc
        if raw and response.status_code < 300:  # a download: read later, bounded
            return _Answer(response.status_code, response.headers, None, method, url, stream=response)
        try:
            return _Answer(response.status_code, response.headers, response.content, method, url)
        except requests.exceptions.RequestException as exc:
            raise self._transport_error("Could not reach Meta", method, url, exc) from exc
        finally:
            response.close()

    def _handle_response(self, answer, raw):
        status = answer.status
        if status >= 300:  # Graph API calls never redirect; GET redirects were followed above
            raise self._http_error(answer)
        if raw:
            return self._read_bounded(answer.stream, self.max_download_bytes)
        if not answer.body:
            return {}
        try:
            return json_module.loads(answer.body)
        except ValueError:
            raise WhatsAppApiError(
                f"Meta answered HTTP {status} with a body that is not JSON "
                f"({answer.headers.get('Content-Type') or 'no content type'}).",
                http_status=status,
                category="unknown",
                retryable=False,
            ) from None

    def _http_error(self, answer):
        status = answer.status
        try:
            body = json_module.loads(answer.body) if answer.body else None
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            err = WhatsAppApiError.from_meta(body["error"], http_status=status, token=self._token)
        else:
            snippet = " ".join(answer.body.decode("utf-8", "replace")[:200].split()) if answer.body else ""
            reason = f" ({_mask(snippet, self._token)})" if snippet and body is None else ""
            err = WhatsAppApiError(
                f"Meta answered HTTP {status} without an error description{reason}.",
                http_status=status,
            )
        _logger.info("Graph API %s %s failed: %s", answer.method, self._safe_url(answer.url), err)
        return err

    def _read_bounded(self, response, max_bytes):
        declared = as_int(response.headers.get("Content-Length"))
        if declared is not None and declared > max_bytes:
            raise self._too_large(declared, max_bytes)
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise self._too_large(size, max_bytes)
                chunks.append(chunk)
        except requests.exceptions.RequestException as exc:
            raise self._transport_error("The download from Meta failed", "GET", response.url, exc) from exc
        return b"".join(chunks)

    def _too_large(self, size, max_bytes):
        return WhatsAppApiError(
            f"The media is too large ({size} bytes, at most {max_bytes} allowed).",
            category="media",
            retryable=False,
        )

    def _transport_error(self, text, method, url, exc):
        err = WhatsAppApiError(
            f"{text} ({method} {self._safe_url(url)}: {type(exc).__name__}).",
            category="transient",
            retryable=True,
        )
        _logger.info("Graph API %s %s failed: %s", method, self._safe_url(url), _mask(str(exc), self._token))
        return err

    def _get_all_pages(self, path, params):
        """Follow ``paging.cursors.after`` (or ``paging.next``) until the last page."""
        base_params = dict(params or {})
        items, seen, url, params = [], set(), path, base_params
        for _page in range(MAX_PAGES):
            body = self._request("GET", url, params=params)
            items.extend(body.get("data") or [])
            paging = body.get("paging") or {}
            next_url = paging.get("next")
            after = (paging.get("cursors") or {}).get("after")
            if not next_url:
                return items
            if after:
                key, url, params = ("after", after), path, {**base_params, "after": after}
            else:
                url, params = _strip_token(next_url), None
                key = ("next", url)
            if key in seen:
                raise WhatsAppApiError(
                    f"Meta returned the same paging cursor twice for {path}: stopped to avoid a loop.",
                    category="transient",
                    retryable=True,
                )
            seen.add(key)
        raise WhatsAppApiError(f"More than {MAX_PAGES} pages for {path}: stopped.", category="unknown")

    # ----------------------------------------------------------------------------------------
    # Helpers
    # ----------------------------------------------------------------------------------------

    def _url(self, path_or_url):
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{self.version}/{path_or_url.lstrip('/')}"

    def _check_host(self, url):
        if not self._allowed_url(url):
            raise WhatsAppApiError(
                f"Refused to contact {urlsplit(url).hostname or '?'}: neither the Graph API host nor one of Meta's "
                "media hosts.",
                category="param",
                retryable=False,
            )
        if self.only_loopback and not is_loopback_url(url):
            raise LoopbackOnlyError(
                f"Refused to contact {urlsplit(url).hostname or url!r}: "
                "only loopback addresses are allowed while tests run.",
                category="permission",
                retryable=False,
            )

    def _allowed_url(self, url):
        """True for the configured Graph host (``base_url``: Meta's, or the sandbox) and Meta's media hosts.

        Media URLs come from ``GET /{media-id}`` and media ids from webhooks: whatever they say, the token goes
        nowhere else (a URL to another host would receive it, and the request would reach an internal service).
        """
        parts, base = urlsplit(url), urlsplit(self.base_url)
        if (parts.scheme, parts.netloc.lower()) == (base.scheme, base.netloc.lower()):
            return True
        host = (parts.hostname or "").rstrip(".").lower()
        return parts.scheme == "https" and any(
            host == domain or host.endswith("." + domain) for domain in META_MEDIA_DOMAINS
        )

    def _safe_url(self, url):
        """URL for logs and messages: no query string (may carry ids or a token)."""
        parts = urlsplit(_mask(url or "", self._token))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _strip_token(url):
    """Drop an ``access_token`` Meta may echo in paging links: the token goes in the header."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "access_token"]
    return urlunsplit(parts._replace(query=urlencode(query)))


class _Timeout(tuple):
    """A ``(connect, read)`` tuple that also compares with a number, by its longest part.

    Odoo's test harness patches ``requests.Session.send`` and evaluates ``timeout < 10`` to raise
    short timeouts to 10 s; a plain tuple makes that comparison raise ``TypeError``.
    """

    __slots__ = ()

    def __lt__(self, other):
        if isinstance(other, int | float):
            return None not in self and max(self) < other
        return tuple.__lt__(self, other)


def _as_timeout(timeout):
    if isinstance(timeout, tuple | list):
        return _Timeout(timeout)
    return _Timeout((timeout, timeout))
