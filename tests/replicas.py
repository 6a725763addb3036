"""A deployment on loopback for the replica test and bench: PostgreSQL, N wenban
replicas and nginx with the configuration shipped in ``deploy/``.

    with Deployment(settings, replicas=3) as dep:   # settings: a prepared home (model, cache)
        dep.url            # nginx in front
        dep.replica_urls   # each replica directly
        dep.kill(1)        # kill -9 one replica
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.pgserver import PgServer
from wenban.config import REPO_ROOT

TOKEN = "replica-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready in {timeout} s")


def nginx_unavailable() -> str | None:
    return None if shutil.which("nginx") or Path("/usr/sbin/nginx").exists() else \
        "nginx is not installed: `make test` installs Debian's package"


class Deployment:
    def __init__(self, settings, replicas: int = 3, catalogues: tuple[str, ...] = ("guangan",)) -> None:
        self.settings, self.n, self.catalogues = settings, replicas, catalogues
        self.tmp = Path(tempfile.mkdtemp(prefix="wenban-replicas-"))
        self.home = self.tmp / "home"
        self.pg = PgServer()
        self.procs: list[subprocess.Popen] = []
        self.ports = [free_port() for _ in range(replicas)]
        self.replica_urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.nginx_port = free_port()
        self.url = f"http://127.0.0.1:{self.nginx_port}"
        self.nginx: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        return {**os.environ, "WENBAN_HOME": str(self.home), "WENBAN_DATABASE_URL": self.pg.url,
                "WENBAN_MODEL": str(self.settings.model_path), "WENBAN_ADMIN_TOKEN": TOKEN,
                "WENBAN_POLL_SECONDS": "1", "PYTHONPATH": str(REPO_ROOT),
                # the load comes from one address through nginx: the per-client limit is not under test
                "WENBAN_RATE_LIMIT": "off"}

    def prepare(self, embedder) -> None:
        """The catalogues into PostgreSQL and their indexes into the shared home."""
        from dataclasses import replace

        from index.build import build_index
        from store import db as store
        from wenban.data_cli import import_bundled

        self.home.mkdir(parents=True)
        if self.settings.cache_path.exists():  # embeddings already made: builds take seconds
            shutil.copy(self.settings.cache_path, self.home / "embedding-cache.db")
        s = replace(self.settings, home=self.home, database_url=self.pg.url)
        db = store.open_db(self.pg.url)
        import_bundled(db, s, names=list(self.catalogues), log=lambda *_: None)
        for cat in self.catalogues:
            build_index(s, db, cat, embedder, log=lambda *_: None, progress=False)

    def start_replica(self, i: int) -> subprocess.Popen:
        log = open(self.tmp / f"replica-{i}.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "wenban.cli", "serve", "--host", "127.0.0.1",
                                 "--port", str(self.ports[i])], env=self.env(), cwd=REPO_ROOT,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if i < len(self.procs):
            self.procs[i] = proc
        else:
            self.procs.append(proc)
        return proc

    def start_nginx(self) -> None:
        shipped = (REPO_ROOT / "deploy" / "nginx-wenban.conf").read_text()
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in self.ports)
        conf = re.sub(r"(upstream wenban \{\n)(?:\s*#.*\n)?(?:\s*server [^\n]*\n)+", rf"\g<1>{servers}\n", shipped)
        conf = re.sub(r"listen [\d.:]+;", f"listen 127.0.0.1:{self.nginx_port};", conf)
        ng = self.tmp / "nginx"
        ng.mkdir()
        os.chmod(ng, 0o777)  # workers run as nobody when the master is root
        main = (f"pid {ng}/nginx.pid;\nerror_log {ng}/error.log warn;\nworker_processes 1;\n"
                f"events {{ worker_connections 512; }}\n"
                f"http {{\n access_log off;\n client_body_temp_path {ng}/body;\n proxy_temp_path {ng}/proxy;\n"
                f" fastcgi_temp_path {ng}/fcgi;\n uwsgi_temp_path {ng}/uwsgi;\n scgi_temp_path {ng}/scgi;\n"
                f"{conf}\n}}\n")
        (ng / "nginx.conf").write_text(main)
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.nginx = subprocess.Popen([binary, "-p", str(ng), "-c", str(ng / "nginx.conf"), "-g", "daemon off;"],
                                      stdout=subprocess.DEVNULL, stderr=open(ng / "stderr.log", "w"))
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise TimeoutError("nginx did not come up: " + (ng / "error.log").read_text()[-2000:])

    def start(self, embedder) -> "Deployment":
        self.pg.start()
        self.prepare(embedder)
        for i in range(self.n):
            self.start_replica(i)
        for i, (url, proc) in enumerate(zip(self.replica_urls, self.procs)):
            try:
                wait_ready(url, proc)
            except (RuntimeError, TimeoutError) as e:  # say why: the log goes with the temporary folder
                log = (self.tmp / f"replica-{i}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{e}; its log ends:\n{log}") from None
        self.start_nginx()
        return self

    def kill(self, i: int) -> None:
        os.killpg(self.procs[i].pid, signal.SIGKILL)
        self.procs[i].wait(timeout=10)

    def close(self) -> None:
        if self.nginx:
            self.nginx.terminate()
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(p.pid, signal.SIGKILL)
        self.pg.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
