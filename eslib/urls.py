"""Store URLs: which backend a URL names, and how to show it without its password."""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .backends.base import Backend

DEFAULT_URL = "duckdb:///eslib.duckdb"

ACCEPTED = (
    "memory://, duckdb:///relative/path.duckdb, duckdb:////absolute/path.duckdb, "
    "duckdb:///:memory:, postgresql://user[:password]@host[:port]/database "
    "(or postgresql:///database?host=…), "
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
    # a token may be the user part, and may hold a "/": hide all up to the last "@"
    shown = re.sub(r"://[^?]*@", "://***@", hide_password(url))
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


POSTGRES_FORMS = (
    "write postgresql://user[:password]@host[:port]/database or "
    "postgresql:///database?host=…&user=…, percent-encoding / ? # @ : % in a user name "
    "or password (/ as %2F, @ as %40, % as %25)"
)


def _parse_postgres(url: str) -> StoreURL:
    """Check a PostgreSQL URL the way libpq reads it, so its errors (which quote the
    offending text, password included) never reach the user; the URL is passed on as is."""
    rest = url.split("://", 1)[1]
    # not urlunsplit(): it turns postgresql:///db?host=… (no netloc) into postgresql:/db?host=…
    target = "postgresql://" + rest
    # libpq's split: the user part ends at the first "@" before any "/"
    userinfo, at, after = rest.partition("@")
    if not at or "/" in userinfo:
        userinfo, after = "", rest
    safe = hide_password(url)

    def malformed(what: str) -> ConfigurationError:
        return ConfigurationError(f"malformed PostgreSQL URL {safe!r}: {what}; {POSTGRES_FORMS}")

    hosts, _, path = after.partition("?")[0].partition("/")
    if "@" in path and not userinfo:  # postgresql://user:ab/cd@host/db
        raise malformed("an '@' after the host: a password holding '/' must write it as %2F "
                        "(an '@' in a database name as %40)")
    if "@" in hosts:  # libpq would take "…@host" as the host name, showing the password's tail
        raise malformed("more than one '@' before the host: write an '@' in a user name or "
                        "password as %40")
    bad_escape = re.search(r"%(?![0-9A-Fa-f]{2})|%00", rest)
    if bad_escape:
        where = "the user name or password" if bad_escape.start() < len(userinfo) \
            else "the host, database or a parameter"
        raise malformed(f"a bad '%' escape in {where}: a '%' starts two hex digits, not 00 "
                        "(write % itself as %25)")
    params, problem = postgres_params(target)
    if params is None:  # raised here, not in an except: its __context__ would quote the secret
        unknown = re.fullmatch(r'invalid URI query parameter: "([^"]*)"', problem)
        what = f"unknown parameter {unknown[1]!r}" if unknown else problem
        raise malformed(_scrubbed(what, _secrets(userinfo, rest)))
    if not params.get("host") and not params.get("hostaddr"):
        raise ConfigurationError(f"PostgreSQL URL {safe!r} names no host; {POSTGRES_FORMS}")
    ports = str(params.get("port", "")).split(",")
    if not all(p == "" or (p.isdigit() and 0 < int(p) < 65536) for p in ports):
        raise malformed("the port is not a number from 1 to 65535")
    return StoreURL("postgresql", target, safe)


def postgres_params(target: str) -> tuple[dict[str, Any] | None, str]:
    """libpq's reading of a PostgreSQL URL, or None and why not (which may quote a secret)."""
    import psycopg

    try:
        return psycopg.conninfo.conninfo_to_dict(target), ""
    except psycopg.Error as exc:
        return None, str(exc).strip()


def _secrets(userinfo: str, rest: str) -> list[str]:
    """The password as written and decoded, from the user part and any ``password=``."""
    from urllib.parse import unquote

    found = [userinfo.partition(":")[2]]
    found += re.findall(r"password=([^&]*)", rest, flags=re.IGNORECASE)
    return [s for raw in found if raw for s in (raw, unquote(raw))]


def _scrubbed(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return hide_password(" ".join(text.split()))


def hide_password(url: object) -> str:
    """The text with any URL password (in the user part or a ``password=`` parameter) as ``***``.

    A password may hold an unencoded "/", "?", "#" or space (a malformed URL, whose error
    message must still not show it), so the user part ends at the last "@" of each URL,
    not at the first "/"; an "@" in a query value (``?user=a@b``) does not count, unless
    libpq would read it as the user part's end (the first "@", with no "/" before it).
    """
    text = re.sub(r"((?:password|token)=)[^&\s]*", r"\1***", str(url), flags=re.IGNORECASE)
    pieces = text.split("://")
    for i, piece in enumerate(pieces[1:], 1):
        ends = [m.start() for m in re.finditer("@", piece) if not _in_query(piece[:m.start()])]
        first = piece.find("@")
        if first >= 0 and "/" not in piece[:first]:  # libpq: postgresql://u:a?b=c@host/db
            ends.append(first)
        if not ends:
            continue
        end = max(ends)
        user, colon, _ = piece[:end].partition(":")
        if colon and not re.search(r"[\s/?#]", user):  # else not a user part, e.g. "h/db: …"
            pieces[i] = f"{user}:***{piece[end:]}"
    return "://".join(pieces)


def _in_query(text: str) -> bool:
    return re.search(r"\?[^=]*=", text) is not None
