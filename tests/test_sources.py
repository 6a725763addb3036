"""The published catalogues are read from WENBAN_SOURCES, never kept in the repository."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from wenban.config import REPO_ROOT, Settings


def _digests(root, skip=()):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for f in filenames:
            p = os.path.join(dirpath, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            out.setdefault(os.path.getsize(p), []).append(p)
    return out


def _sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def test_no_file_in_the_repository_is_a_copy_of_shared_data():
    shared = REPO_ROOT.parent / "shared" / "data"
    assert shared.is_dir(), f"{shared} is missing: the check needs ../shared beside the checkout"
    theirs = _digests(shared)
    # only files git would commit: the runtime folder, the venv and caches are ignored
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO_ROOT,
                             capture_output=True, check=True).stdout.decode().split("\0")
    copies = []
    for rel in filter(None, tracked):
        p = REPO_ROOT / rel
        if not p.is_file():
            continue
        size = p.stat().st_size
        if size and size in theirs and any(_sha(p) == _sha(q) for q in theirs[size]):
            copies.append(rel)
    assert not copies, f"files copied from ../shared/data must not be committed: {copies}"


def test_setup_with_empty_sources_says_so_and_serves(tmp_path, settings):
    from fastapi.testclient import TestClient

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "WENBAN_HOME": str(tmp_path / "home"), "WENBAN_SOURCES": str(empty),
           "WENBAN_MODEL": str(settings.model_path)}
    r = subprocess.run([sys.executable, "-m", "wenban.cli", "setup"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "not found" in ln]
    assert len(lines) == 2, r.stderr  # one clear line per bundled catalogue
    assert all("WENBAN_SOURCES" in ln and "wenban import" in ln for ln in lines)
    assert "guangan/bszl-data.json" in r.stderr and "guangdong/policy.jsonl" in r.stderr

    from api.app import create_app

    s = Settings.from_env(env)
    with TestClient(create_app(s)) as client:  # startup runs: it must not fail
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/v1/catalogues").json() == []
        assert client.get("/").status_code == 200
        # the kiosk's script says so when the catalogue list is empty (a browser test shows it)
        assert "本机尚未导入事项目录" in client.get("/static/kiosk.js").text


def test_relative_sources_are_taken_against_the_repository():
    s = Settings.from_env({"WENBAN_SOURCES": "x/y"})
    assert s.sources == (REPO_ROOT / "x" / "y").resolve()
    assert Settings.from_env({}).sources == (REPO_ROOT.parent / "shared" / "data" / "catalogues")
