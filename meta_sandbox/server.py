"""HTTP plumbing: a threaded HTTP/1.1 (keep-alive) server dispatching to the Graph and control handlers."""

import json
import logging
import secrets
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

_logger = logging.getLogger(__name__)


class Request:
    __slots__ = ("body", "headers", "method", "parts", "path", "query", "_json")

    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.parts = [p for p in path.split("/") if p]
        self.query = query
        self.headers = headers
        self.body = body
        self._json = Ellipsis

    def json(self):
        """Parsed JSON body; None when empty; raises ValueError when not JSON."""
        if self._json is Ellipsis:
            self._json = json.loads(self.body) if self.body else None
        return self._json

    def header(self, name, default=None):
        return self.headers.get(name, default)


class Response:
    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(self, status=200, body=None, content_type="application/json", headers=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


class DropConnection(Exception):  # noqa: N818 - control flow, not an error
    """Close the connection without answering (simulated network timeout)."""


class GraphError(Exception):
    """An error answered in Graph's shape."""

    def __init__(
        self,
        http_status,
        code,
        message,
        subcode=None,
        type_="OAuthException",
        details=None,
        user_title=None,
        user_msg=None,
    ):
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.subcode = subcode
        self.type = type_
        self.details = details
        self.user_title = user_title
        self.user_msg = user_msg

    def to_response(self):
        err = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        if self.user_title:
            err["is_transient"] = False
            err["error_user_title"] = self.user_title
        if self.user_msg:
            err["error_user_msg"] = self.user_msg
        if self.details is not None:
            err["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        err["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
        headers = (
            {"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'} if self.code == 190 else {}
        )
        return Response(self.http_status, {"error": err}, headers=headers)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MetaSandbox/1.0"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        _logger.debug("meta_sandbox: " + format, *args)

    def _handle(self):
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, split.path, query, self.headers, body)
        try:
            resp = self.server.sandbox.dispatch(req)
        except DropConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        except GraphError as e:
            resp = e.to_response()
        except Exception:
            _logger.exception("meta_sandbox: internal error on %s %s", self.command, self.path)
            resp = GraphError(500, 1, "An unknown error occurred", type_="OAuthException").to_response()
        self._send(resp)

    def _send(self, resp):
        body = resp.body
        content_type = resp.content_type
        if body is None:
            body = b""
        elif not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(resp.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _handle  # noqa: N815 - stdlib naming


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, sandbox):
        self.sandbox = sandbox
        super().__init__(address, _Handler)
