"""Store URLs: which backend a URL names, and how to show it without its password."""

from __future__ import annotations

import importlib
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
    "duckdb:///:memory:, postgresql://user[:password]@host[:port]/database"
)

# scheme -> "module:class", imported only when used so `import eslib` stays light
BACKENDS = {
    "memory": "eslib.backends.memory:MemoryBackend",
    "duckdb": "eslib.backends.duckdb:open_backend",
    "postgresql": "eslib.backends.postgres:PostgresBackend",
    "postgres": "eslib.backends.postgres:PostgresBackend",
}


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL. ``str()`` and ``repr()`` never show a password."""

    scheme: str
    target: str = field(repr=False)  # path or conninfo handed to the backend; may hold a secret
    display: str = ""

    def open_backend(self, **options: Any) -> Backend:
        module_name, _, class_name = BACKENDS[self.scheme].partition(":")
        module = importlib.import_module(module_name)
        backend: Backend = getattr(module, class_name)(self.target, **options)
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
        return StoreURL("duckdb", path, url)
    return _parse_postgres(url)


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
    text = re.sub(r"(password=)[^&\s]*", r"\1***", str(url), flags=re.IGNORECASE)
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

