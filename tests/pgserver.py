"""A throw-away PostgreSQL cluster on loopback, for the tests and the replica bench.

    with PgServer() as pg:           # initdb + pg_ctl start, as a non-root user
        url = pg.url                 # postgresql://wenban@127.0.0.1:PORT/wenban
    # stopped and removed

PostgreSQL refuses to run as root, and CI runs as root: the cluster then runs
as the ``postgres`` system user (Debian's package creates it) through
``runuser``. ``PgServer.unavailable()`` says why it cannot start (no binaries,
no such user), so tests skip with that reason printed.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, user: str = "postgres") -> None:
        self.bindir = _bindir()
        self.port = _free_port()
        self.run_as = user if os.geteuid() == 0 else None
        self.dir: Path | None = None
        self.url = f"postgresql://wenban@127.0.0.1:{self.port}/wenban"

    @staticmethod
    def unavailable() -> str | None:
        if _bindir() is None:
            return "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb): `make test` installs it"
        if os.geteuid() == 0:
            try:
                import pwd

                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no 'postgres' user to run the cluster as"
        return None

    def _run(self, *args: str, **kw) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True, **kw)

    def start(self) -> "PgServer":
        why = self.unavailable()
        if why:
            raise RuntimeError(why)
        self.dir = Path(tempfile.mkdtemp(prefix="wenban-pg-"))
        data = self.dir / "data"
        if self.run_as:
            shutil.chown(self.dir, self.run_as)
        self._run("initdb", "-D", str(data), "-U", "wenban", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        # loopback only, no unix socket in a root-owned place, small and fast for tests
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir} "
                f"-c fsync=off -c max_connections=200 -c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(data), "-o", opts, "-l", str(self.dir / "log"), "-w", "-t", "60", "start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "wenban", "wenban")
        return self

    def stop(self, mode: str = "fast") -> None:
        if self.dir and (self.dir / "data" / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "-t", "60", "stop")
            except subprocess.CalledProcessError:
                pass

    def restart_after(self, seconds: float) -> None:
        """Stop the server, wait, start it again (for reconnect tests)."""
        self.stop("immediate")
        time.sleep(seconds)
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir} "
                f"-c fsync=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-o", opts, "-l", str(self.dir / "log"), "-w", "start")

    def close(self) -> None:
        self.stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PgServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
