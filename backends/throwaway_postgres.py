#!/usr/bin/env python3
"""Start (or stop) a throwaway local PostgreSQL for tests and notebooks.

Uses the machine's PostgreSQL binaries (``initdb``/``pg_ctl`` on PATH or under
/usr/lib/postgresql/*/bin), a fresh data folder in the temp directory and a free
port on 127.0.0.1, trust authentication, user ``postgres``. Prints the URL::

    $ python backends/throwaway_postgres.py start
    postgresql://postgres@127.0.0.1:54873/postgres
    $ export ESLIB_URL=$(python backends/throwaway_postgres.py start --quiet)
    $ python backends/throwaway_postgres.py stop            # the last one started
    $ python backends/throwaway_postgres.py stop /tmp/eslib-pg-abc123

PostgreSQL refuses to run as root; as root the cluster runs as the ``postgres``
user (or ``nobody``) through ``runuser``/``setpriv``. Durability is switched off
(fsync=off): this server is for throwaway data only.

Standard library only, so tests and notebooks can import :func:`start` and :func:`stop`.
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

LAST = Path(tempfile.gettempdir()) / "eslib-pg-last"  # remembers the last folder started


def find_binaries() -> Path:
    """The folder holding initdb and pg_ctl; raises FileNotFoundError naming where it looked."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version, reverse=True)
    candidates += glob.glob("/usr/local/pgsql/bin/initdb") + glob.glob("/opt/homebrew/bin/initdb")
    for path in candidates:
        if os.access(path, os.X_OK):
            return Path(path).parent
    raise FileNotFoundError(
        "no initdb/pg_ctl on PATH or under /usr/lib/postgresql/*/bin; install the PostgreSQL "
        "server (e.g. apt-get install postgresql, brew install postgresql) or use Docker: "
        "docker compose -f backends/compose.yml up -d"
    )


def _version(path: str) -> float:
    try:
        return float(Path(path).parts[-3])
    except (ValueError, IndexError):
        return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _runner() -> tuple[list[str], str | None]:
    """The command prefix that runs the server as a non-root user, and that user's name."""
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return ["runuser", "-u", user, "--"], user
        if shutil.which("setpriv"):
            entry = pwd.getpwnam(user)
            return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}",
                    "--clear-groups"], user
    raise PermissionError("running as root, but found no non-root user (postgres, nobody) "
                          "and no runuser/setpriv to run PostgreSQL as")


def start(base: str | None = None, port: int | None = None) -> tuple[str, Path]:
    """Create and start a cluster; return (its URL, its folder for :func:`stop`)."""
    bin_dir = find_binaries()
    prefix, user = _runner()
    folder = Path(base) if base else Path(tempfile.mkdtemp(prefix="eslib-pg-"))
    folder.mkdir(parents=True, exist_ok=True)
    data, log = folder / "data", folder / "server.log"
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    env = dict(os.environ, LC_ALL="C", LANG="C")
    _call([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
           "-E", "UTF8", "--no-sync"], env)
    port = port or free_port()
    options = (f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder}"
               " -c fsync=off -c full_page_writes=off -c max_connections=200")
    _call([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
           "-w", "-t", "60", "start"], env, log)
    LAST.write_text(str(folder))
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", folder


def restart(folder: str | Path) -> None:
    """Restart the cluster in ``folder`` (``pg_ctl restart -m fast``): sessions are cut."""
    path = Path(folder)
    prefix, _ = _runner()
    # -l again: without it the server would inherit (and hold open) our output pipes
    _call([*prefix, str(find_binaries() / "pg_ctl"), "-D", str(path / "data"), "-l",
           str(path / "server.log"), "-m", "fast", "-w", "-t", "60", "restart"],
          dict(os.environ, LC_ALL="C", LANG="C"), path / "server.log")


def stop(folder: str | Path | None = None) -> None:
    """Stop the cluster in ``folder`` (default: the last one started) and delete it."""
    if folder is None:
        if not LAST.exists():
            raise FileNotFoundError("no throwaway PostgreSQL recorded; give its folder")
        folder = LAST.read_text().strip()
    path = Path(folder)
    if (path / "data" / "postmaster.pid").exists():
        bin_dir = find_binaries()
        prefix, _ = _runner()
        _call([*prefix, str(bin_dir / "pg_ctl"), "-D", str(path / "data"), "-m", "fast", "-w",
               "stop"], dict(os.environ))
    shutil.rmtree(path, ignore_errors=True)
    if LAST.exists() and LAST.read_text().strip() == str(path):
        LAST.unlink()


def _call(command: list[str], env: dict[str, str], log: Path | None = None) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd="/")
    if done.returncode != 0:
        tail = log.read_text()[-2000:] if log and log.exists() else ""
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n"
                           f"{done.stdout}{done.stderr}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("start", help="start a cluster and print its URL")
    up.add_argument("--dir", help="folder for the cluster (default: a new temp folder)")
    up.add_argument("--port", type=int, help="port (default: a free one)")
    up.add_argument("--quiet", action="store_true", help="print the URL only")
    down = sub.add_parser("stop", help="stop a cluster and delete its folder")
    down.add_argument("folder", nargs="?", help="its folder (default: the last started)")
    args = parser.parse_args(argv)
    if args.command == "start":
        url, folder = start(args.dir, args.port)
        print(url)
        if not args.quiet:
            print(f"# stop it with: {sys.executable} {__file__} stop {folder}", file=sys.stderr)
    else:
        stop(args.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
