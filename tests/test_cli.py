"""The ``wenban`` command as a user runs it: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from wenban.cli import main


@pytest.fixture(autouse=True)
def home(settings, monkeypatch):
    """Every command here runs against the tests' copy of the home."""
    monkeypatch.setenv("WENBAN_HOME", str(settings.home))
    monkeypatch.setenv("WENBAN_MODEL", str(settings.model_path))


def run(*args, stdin=None, env=None):
    return subprocess.run([sys.executable, "-m", "wenban.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_ask_json_answers_both_catalogues():
    for catalogue, question, dept in [("guangan", "身份证丢了怎么办", "区公安分局"),
                                      ("guangdong", "去香港旅游要办通行证", "广州市公安局")]:
        p = run("ask", question, "--catalogue", catalogue, "--json")
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        assert out["status"] in ("answer", "clarify")
        depts = [out["item"]["department"]] if out["status"] == "answer" else \
            [o["department"] for o in out["clarify"]["options"]]
        assert dept in depts
        assert len(out["candidates"]) >= 5


def test_ask_jsonl_reads_one_question_a_line_and_reports_bad_lines():
    p = run("ask", "--catalogue", "guangan", "--jsonl", stdin="我想申请低保\n\n？？？\n今天天气怎么样\n")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert [x["status"] for x in lines] == ["answer", "error", "not_found"]
    assert lines[0]["item"]["name"] == "最低生活保障"
    assert lines[1]["line"] == 3 and "punctuation" in lines[1]["error"]


def test_human_card_is_chinese_text():
    p = run("ask", "办狗证要去哪里", "-c", "guangan")
    assert p.returncode == 0
    assert "【犬类准养证核发】" in p.stdout and "办理部门：区公安分局" in p.stdout


@pytest.mark.parametrize("args, needle", [
    (["ask", "", "-c", "guangan"], "empty"),
    (["ask", "？！。", "-c", "guangan"], "punctuation"),
    (["ask", "户" * 501, "-c", "guangan"], "500"),
    (["ask", "户口\x07登记", "-c", "guangan"], "control"),
    (["ask", "户口登记", "-c", "atlantis"], "unknown catalogue"),
    (["import", "x", "/no/such/file.csv"], "no such file"),
])
def test_bad_input_is_a_message_and_exit_2_never_a_traceback(args, needle, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_import_reports_the_bad_row_and_writes_nothing(tmp_path):
    bad = tmp_path / "list.csv"
    bad.write_text("事项编码,事项名称,实施机构\nA1,户口登记,区公安分局\nA2,,区民政局\n", encoding="utf-8")
    env = {"WENBAN_HOME": str(tmp_path / "home")}
    p = run("import", "hall", str(bad), env=env)
    assert p.returncode == 2
    assert "row 3: 事项名称: empty" in p.stderr and "nothing was written" in p.stderr
    assert "Traceback" not in p.stderr
    good = tmp_path / "ok.csv"
    good.write_text("事项编码,事项名称,实施机构\nA1,户口登记,区公安分局\n", encoding="utf-8")
    p = run("import", "hall", str(good), "--diff", "--no-index", env=env)  # indexing is its own test
    assert p.returncode == 0 and "version 1: 1 added" in p.stdout
    p = run("catalogues", env=env)
    assert "hall" in p.stdout and "no index" in p.stdout
