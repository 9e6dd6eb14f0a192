"""HTTP plumbing: a threaded HTTP/1.1 (keep-alive) server dispatching to the Graph and control handlers."""

import io
import json
import logging
import secrets
import socket
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

_logger = logging.getLogger(__name__)


#: Linux's ``SO_TIMESTAMPNS`` (Python's ``socket`` does not export it): the kernel stamps each read of a socket
#: with the time its bytes reached the machine
_SO_TIMESTAMPNS = 35 if sys.platform.startswith("linux") else None


class _StampedReader(io.RawIOBase):
    """A connection's reads, each stamped by the kernel with the time its bytes arrived (:attr:`stamp`): a request
    arrives when its client sent it, as Meta's edge would count it, however late this process's threads get to
    read it on a busy machine."""

    def __init__(self, sock):
        self._sock = sock
        self.stamp = None

    def readable(self):
        return True

    def readinto(self, buffer):
        size, ancillary, _flags, _address = self._sock.recvmsg_into([buffer], socket.CMSG_SPACE(16))
        self.stamp = None
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
                seconds, nanoseconds = struct.unpack("qq", data[:16])
                self.stamp = seconds + nanoseconds / 1e9
        return size


class Request:
    __slots__ = ("body", "headers", "method", "parts", "path", "query", "received", "_json")

    def __init__(self, method, path, query, headers, body, received=None):
        #: when the request reached the machine (the kernel's stamp; None where the system gives none)
        self.received = received
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
    # an answer leaves in one write (the handler flushes it after each request), at once: written as headers then
    # body, its second segment waited for the client's delayed ACK (Nagle), 40 ms a call that Meta does not take
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self._stamped = None
        if self.server.stamped:  # the connection has the listening socket's option
            self._stamped = _StampedReader(self.connection)
            self.rfile.close()  # the socket's own reader, not used
            self.rfile = io.BufferedReader(self._stamped)

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        _logger.debug("meta_sandbox: " + format, *args)

    def _handle(self):
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        received = self._stamped.stamp if self._stamped else None  # the read that brought the request line
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, split.path, query, self.headers, body, received)
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
        self.stamped = False
        super().__init__(address, _Handler)

    def server_bind(self):
        # on the listening socket, so that the kernel stamps a connection's first bytes, which may arrive before the
        # handler's thread starts (its connections inherit the option)
        if _SO_TIMESTAMPNS:  # elsewhere, requests are timed when their handler runs
            self.socket.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            self.stamped = True
        super().server_bind()
