"""The eslib server: one store shared over gRPC by any number of processes (``eslib serve``).

A DuckDB file has one writer process; a server that owns it lets every notebook,
script and language share it (``eslib.connect("grpc://127.0.0.1:50051")``). The
protocol is ``eslib/proto/eventstore.proto``.

Safe by default: it binds to loopback; a bearer token (``--token-file`` or
``$ESLIB_GRPC_TOKEN``) is compared in constant time and a wrong or missing one gets
UNAUTHENTICATED and nothing else; TLS takes a certificate and key file; requests
above ``max_message_bytes`` and reads above ``page_size`` events are refused or cut;
SQL through transactions is off unless ``allow_sql``. SIGTERM (or Ctrl-C) stops
taking calls, lets in-flight appends finish (``grace`` seconds), then closes the store.
"""

from __future__ import annotations

import hmac
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .errors import ConfigurationError
from .urls import parse_url
from .validation import is_int

if TYPE_CHECKING:
    import grpc

    from .proto.service import Service

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 50051
TOKEN_ENV = "ESLIB_GRPC_TOKEN"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
# Python's recursion limit while serving: a handler runs some 50 frames deep, and events
# may be nested up to eslib.proto.codec.MAX_DEPTH (what a local store at the default limit
# of 1000 can write); parsing and encoding them recurse once per level
RECURSION_LIMIT = 2500
UNAUTHENTICATED = "missing or invalid credentials"

log = logging.getLogger("eslib.server")


def load_token(token_file: str | os.PathLike[str] | None = None) -> str | None:
    """The bearer token: the first line of ``token_file``, else ``$ESLIB_GRPC_TOKEN``, else None."""
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"cannot read the token file {str(token_file)!r}: "
                                     f"{exc.strerror}") from None
        if not token:
            raise ConfigurationError(f"the token file {str(token_file)!r} is empty")
        return token
    return os.environ.get(TOKEN_ENV) or None


class EventStoreServer:
    """A running gRPC server over a store URL; ``start()``, then ``stop()`` (or ``with``)."""

    def __init__(self, url: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                 token: str | None = None, tls_cert: str | None = None,
                 tls_key: str | None = None, allow_sql: bool = False, page_size: int = 1000,
                 max_message_bytes: int = 8 << 20, max_workers: int = 32,
                 poll_interval: float = 0.5, transaction_timeout: float = 60.0,
                 **backend_options: Any) -> None:
        if (tls_cert is None) != (tls_key is None):
            raise ConfigurationError("TLS needs both a certificate and a key file")
        if page_size < 1 or max_message_bytes < 1024 or max_workers < 4:
            raise ConfigurationError("page_size >= 1, max_message_bytes >= 1024 and "
                                     "max_workers >= 4, please")
        self.url = parse_url(url)
        if not is_int(port, 0, 65535):
            raise ConfigurationError(f"port must be 0 (a free one) to 65535, got {port!r}")
        self.host, self.port = host, port
        self.tls = tls_cert is not None
        self._token, self._cert, self._key = token, tls_cert, tls_key
        self._options = dict(allow_sql=allow_sql, page_size=page_size,
                             max_message_bytes=max_message_bytes, poll_interval=poll_interval,
                             transaction_timeout=transaction_timeout,
                             max_subscriptions=max_workers // 2,
                             max_transactions=max(1, max_workers // 4))
        self._max_workers = max_workers
        self._backend_options = backend_options
        self._server: grpc.Server | None = None
        self.service: Service | None = None

    @property
    def address(self) -> str:
        """The URL clients connect to (never with the token)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'grpcs' if self.tls else 'grpc'}://{host}:{self.port}"

    def start(self) -> EventStoreServer:
        from concurrent import futures

        from . import proto  # noqa: F401 - before grpc: it may set grpcio's experiments

        try:
            import grpc

            from .proto.service import Service
        except ImportError as exc:
            raise ConfigurationError(f"serving needs the grpc extra ({exc.name} is missing): "
                                     "pip install 'eslib[grpc]'") from exc

        if sys.getrecursionlimit() < RECURSION_LIMIT:  # process-wide
            sys.setrecursionlimit(RECURSION_LIMIT)  # 2500 JSON levels fit in 1 MiB of stack
        limit = int(self._options["max_message_bytes"])
        from .store import EventStore

        backend = self.url.open_backend(**self._backend_options)
        store = EventStore(backend, self.url)
        self.service = Service(store, self.url.scheme, **self._options)  # type: ignore[arg-type]
        interceptors = [_bearer_auth(self._token)] if self._token else []
        server = grpc.server(
            futures.ThreadPoolExecutor(self._max_workers, thread_name_prefix="eslib-rpc"),
            interceptors=interceptors,
            options=[("grpc.max_receive_message_length", 2 * limit),
                     ("grpc.max_send_message_length", 4 * limit),
                     ("grpc.so_reuseport", 0),
                     ("grpc.keepalive_time_ms", 20_000),
                     ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
                     ("grpc.keepalive_permit_without_calls", 1)],
        )
        server.add_generic_rpc_handlers((self.service.handler(),))
        bind = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        try:
            if self._cert is not None and self._key is not None:
                credentials = grpc.ssl_server_credentials(
                    [(Path(self._key).read_bytes(), Path(self._cert).read_bytes())])
                self.port = server.add_secure_port(bind, credentials)
            else:
                self.port = server.add_insecure_port(bind)
        except (OSError, RuntimeError) as exc:
            backend.close()
            raise ConfigurationError(f"cannot listen on {bind}: {exc}") from None
        self._warn_if_exposed()
        server.start()
        self._server = server
        log.info("serving %s on %s", self.url, self.address)
        return self

    def _warn_if_exposed(self) -> None:
        if self.host in LOOPBACK:
            return
        if not self._token:
            log.warning("listening on %s without a token: anyone who reaches it can read and "
                        "write the store", self.host)
        elif not self.tls:
            log.warning("listening on %s without TLS: the token travels in clear text",
                        self.host)

    def stop(self, grace: float | None = 10.0) -> None:
        """Refuse new calls, end subscriptions, let in-flight calls finish, close the store."""
        if self._server is None or self.service is None:
            return
        server, self._server = self._server, None
        self.service.stopping.set()
        self.service._notify()
        server.stop(grace).wait()
        self.service.backend.close()

    def wait(self) -> None:
        if self._server is not None:
            self._server.wait_for_termination()

    def __enter__(self) -> EventStoreServer:
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop(0)


def _deny(handler: Any) -> Any:
    import grpc

    def deny(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED)

    if handler is not None and handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(deny)
    if handler is not None and handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(deny)
    if handler is not None and handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(deny)
    return grpc.unary_unary_rpc_method_handler(deny)


def _bearer_auth(token: str) -> grpc.ServerInterceptor:
    """Lets a call through only with ``authorization: Bearer <token>`` (constant-time check)."""
    import grpc

    expected = f"Bearer {token}".encode()

    class BearerAuth(grpc.ServerInterceptor):
        def intercept_service(self, continuation: Any, details: Any) -> Any:
            given = b""
            for key, value in details.invocation_metadata or ():
                if key == "authorization":
                    given = value.encode() if isinstance(value, str) else value
                    break
            if hmac.compare_digest(given, expected):
                return continuation(details)
            return _deny(continuation(details))

    return BearerAuth()


def serve(url: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
          token_file: str | None = None, tls_cert: str | None = None,
          tls_key: str | None = None, allow_sql: bool = False, grace: float = 10.0,
          **options: Any) -> None:
    """Serve the store at ``url`` until SIGTERM or Ctrl-C (what ``eslib serve`` runs).

    Prints one line ``eslib server: serving <store> on grpc://host:port`` once listening
    (port 0 picks a free port and the line tells which).
    """
    server = EventStoreServer(url, host, port, token=load_token(token_file), tls_cert=tls_cert,
                              tls_key=tls_key, allow_sql=allow_sql, **options)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        auth = "token required" if server._token else "no token"
        click.echo(f"eslib server: serving {server.url} on {server.address} ({auth})",
                   err=False)
        while not stop.wait(0.5):
            pass
        click.echo("eslib server: stopping, finishing calls in flight", err=True)
    finally:
        server.stop(grace)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":  # python -m eslib.server: the same as `eslib serve`
    from .cli import main

    main(["serve", *sys.argv[1:]])
