"""Store URLs: which backend a URL names, and how to show it without its password."""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .backends.base import Backend

DEFAULT_URL = "duckdb:///eslib.duckdb"

ACCEPTED = (
    "memory://, duckdb:///relative/path.duckdb, duckdb:////absolute/path.duckdb, "
    "duckdb:///:memory:, postgresql://user[:password]@host[:port]/database, "
    "grpc://[:token@]host[:port] (an eslib server; grpcs:// with TLS)"
)

# scheme -> "module:class", imported only when used so `import eslib` stays light
BACKENDS = {
    "memory": "eslib.backends.memory:MemoryBackend",
    "duckdb": "eslib.backends.duckdb:open_backend",
    "postgresql": "eslib.backends.postgres:PostgresBackend",
    "postgres": "eslib.backends.postgres:PostgresBackend",
    "grpc": "eslib.backends.grpc:GrpcBackend",
    "grpcs": "eslib.backends.grpc:GrpcBackend",
}

GRPC_DEFAULT_PORT = 50051


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL. ``str()`` and ``repr()`` never show a password."""

    scheme: str
    target: str = field(repr=False)  # path or conninfo handed to the backend; may hold a secret
    display: str = ""

    def open_backend(self, **options: Any) -> Backend:
        module_name, _, class_name = BACKENDS[self.scheme].partition(":")
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
        signature = inspect.signature(cls)
        try:
            signature.bind(self.target, **options)
        except TypeError:
            accepted = list(signature.parameters)[1:]
            raise ConfigurationError(
                f"unknown option(s) {', '.join(sorted(options))} for {self.display}; "
                f"accepted: {', '.join(accepted) or 'none'}") from None
        backend: Backend = cls(self.target, **options)
        return backend

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        return f"StoreURL({self.display!r})"


def parse_url(url: str) -> StoreURL:
    """Parse a store URL, raising ConfigurationError (without the password) if it is not one."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"not a store URL: {hide_password(url)!r}; accepted forms: {ACCEPTED}"
        )
    scheme = url.split("://", 1)[0].lower()
    if scheme not in BACKENDS:
        raise ConfigurationError(
            f"unknown store URL scheme {scheme!r} in {hide_password(url)!r}; "
            f"accepted forms: {ACCEPTED}"
        )
    if scheme == "memory":
        if url.split("://", 1)[1] not in ("", "/"):
            raise ConfigurationError(
                f"memory:// takes no path, got {url!r}; accepted forms: {ACCEPTED}"
            )
        return StoreURL("memory", "", "memory://")
    if scheme == "duckdb":
        rest = url.split("://", 1)[1]
        if not rest.startswith("/") or rest == "/":
            raise ConfigurationError(
                f"malformed DuckDB URL {url!r}: write duckdb:///relative/path.duckdb, "
                "duckdb:////absolute/path.duckdb or duckdb:///:memory:"
            )
        path = rest[1:]
        if "?" in path or "#" in path:  # else a file named "x.duckdb?read_only=true" appears
            raise ConfigurationError(
                f"DuckDB URL {url!r} has a query or fragment; a DuckDB URL is only a path — "
                "give options to connect(), e.g. eslib.connect(url, read_only=True)"
            )
        return StoreURL("duckdb", path, url)
    if scheme in ("grpc", "grpcs"):
        target = grpc_target(url)
        return StoreURL(scheme, url, target.display)
    return _parse_postgres(url)


@dataclass(frozen=True)
class GrpcTarget:
    """Where an eslib server listens and how to talk to it. ``repr`` hides the token."""

    secure: bool
    host: str
    port: int
    token: str | None = field(default=None, repr=False)
    ca_file: str | None = None

    @property
    def display(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'grpcs' if self.secure else 'grpc'}://{host}:{self.port}"


def grpc_target(url: str) -> GrpcTarget:
    """Parse ``grpc[s]://[:token@]host[:port][?token=…&ca=/path/ca.pem]``.

    Without a token in the URL, ``$ESLIB_GRPC_TOKEN`` is used; without ``ca=``,
    ``$ESLIB_GRPC_CA`` (grpcs:// only; else the system's roots). Errors never show the token.
    """
    import os
    from urllib.parse import parse_qs, unquote

    scheme = url.split("://", 1)[0].lower()
    form = f"write {scheme}://host:port, {scheme}://:token@host:port or ?token=…"
    shown = re.sub(r"://[^/?#]*@", "://***@", hide_password(url))  # a token may be the user
    try:
        parts = urlsplit(url)
        port = parts.port or GRPC_DEFAULT_PORT
        query = parse_qs(parts.query, strict_parsing=bool(parts.query))
    except ValueError:
        raise ConfigurationError(f"malformed {scheme} URL {shown!r}; {form}") from None
    unknown = set(query) - {"token", "ca"}
    if not parts.hostname or parts.path not in ("", "/") or unknown:
        what = f"unknown parameter(s) {sorted(unknown)}" if unknown else "no host (or a path)"
        raise ConfigurationError(f"{scheme} URL {shown!r} has {what}; {form}")
    secret = parts.password or parts.username
    token = unquote(secret) if secret else None
    token = token or (query["token"][-1] if "token" in query else None)
    ca = query["ca"][-1] if "ca" in query else os.environ.get("ESLIB_GRPC_CA") or None
    return GrpcTarget(scheme == "grpcs", parts.hostname, port,
                      token or os.environ.get("ESLIB_GRPC_TOKEN") or None, ca)


def _parse_postgres(url: str) -> StoreURL:
    safe = hide_password(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise ConfigurationError(
            f"malformed PostgreSQL URL {safe!r} ({hide_password(str(exc))}); "
            "write postgresql://user[:password]@host[:port]/database"
        ) from None
    if not parts.hostname and "host=" not in parts.query:
        raise ConfigurationError(
            f"PostgreSQL URL {safe!r} names no host; "
            "write postgresql://user[:password]@host[:port]/database"
        )
    target = urlunsplit(("postgresql", *tuple(parts)[1:]))
    return StoreURL("postgresql", target, safe)


def hide_password(url: object) -> str:
    """The URL with any password (in the user part or a ``password=`` parameter) as ``***``."""
    text = re.sub(r"((?:password|token)=)[^&\s]*", r"\1***", str(url), flags=re.IGNORECASE)
    if "://" not in text or "@" not in text:
        return text
    scheme, rest = text.split("://", 1)
    netloc, sep, tail = rest.partition("/")
    if "@" not in netloc:
        return text
    userinfo, _, hostport = netloc.rpartition("@")
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return f"{scheme}://{userinfo}@{hostport}{sep}{tail}"

