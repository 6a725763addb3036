"""The catalogue store and its importers, on the real catalogues and on broken files."""

from __future__ import annotations

import csv
import json

import pytest

from store import db as store
from store.importers import ImportFailed, load_file


def write_csv(path, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


HEADER = ["事项编码", "事项名称", "实施机构", "事项类型", "申请材料", "办理流程", "承诺时限", "办理地点", "咨询电话"]
ROWS = [
    ["A001", "居民身份证办理", "区公安分局", "行政确认", "户口簿；照片", "申请→受理→制证", "20个工作日", "政务中心1楼3号窗口", "0826-1234567"],
    ["A002", "最低生活保障", "区民政局", "行政给付", "申请书\n家庭收入证明", "", "无", "政务中心2楼", "无"],
]


# ------------------------------------------------------------ real data --

def test_guangan_imports_every_item_with_its_department_and_link(db, sources):
    data = load_file(sources / "guangan/bszl-data.json", "guangan", "guangan")
    result = store.import_catalogue(db, data)
    assert result.version == 1 and len(result.added) == 1135
    items = store.items(db, "guangan")
    assert len({i["department"] for i in items}) == 34
    hukou = [i for i in items if i["name"] == "户口登记"]
    assert hukou[0]["department"] == "区公安分局"
    assert hukou[0]["parent_name"] == "户口登记（包括注销、恢复、变更）"
    assert hukou[0]["url"].startswith("http") and hukou[0]["code"] in hukou[0]["url"]
    # taskType in the link decides the type; "未分类" is no parent
    assert {i["type"] for i in items} <= set(store.ITEM_TYPES)
    assert not any(i["parent_name"] == "未分类" for i in items)


def test_guangdong_placeholders_are_null_never_the_string_wu(db, sources):
    data = load_file(sources / "guangdong/policy.jsonl", "guangdong", "guangdong")
    store.import_catalogue(db, data)
    rows = list(db.query("select * from items where catalogue = 'guangdong'"))
    assert len(rows) == 2262
    for r in rows:
        for k, v in r.items():
            assert v != "无", (r["code"], k)
    items = {i["code"]: i for i in store.items(db, "guangdong")}
    pharm = next(i for i in items.values() if i["name"] == "执业药师首次注册")
    assert {"name": "《执业药师首次注册申请表》"} in pharm["materials"]
    assert pharm["time_limit_legal"] == "20个工作日"
    assert pharm["place"].startswith("广州市") and not pharm["place"].startswith("办理地点")
    raw = [json.loads(line) for line in open(sources / "guangdong/policy.jsonl", encoding="utf-8")]
    real_lists = [r["TASK_CODE"] for r in raw if isinstance(r["material_intro"], list)
                  and any(m.strip() not in ("", "无") for m in r["material_intro"])]
    assert sorted(c for c, i in items.items() if i["materials"]) == sorted(real_lists)


# --------------------------------------------------------- generic files --

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "utf-16"])
def test_generic_csv_reads_the_encodings_office_software_writes(tmp_path, encoding):
    path = write_csv(tmp_path / "list.csv", [HEADER, *ROWS], encoding=encoding)
    data = load_file(path, "generic", "hall")
    first, second = data.items
    assert first["name"] == "居民身份证办理" and first["department"] == "区公安分局"
    assert first["materials"] == [{"name": "户口簿"}, {"name": "照片"}]
    assert first["steps"] == ["申请", "受理", "制证"]
    assert second["materials"] == [{"name": "申请书"}, {"name": "家庭收入证明"}]
    assert second["time_limit_promised"] is None and second["phone"] is None  # "无" is not data
    assert second["steps"] is None


def test_undecodable_file_is_refused_with_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes("事项编码,事项名称,实施机构\nA1,户口,公安\n".encode() + b"A2,\xff\xfe\xfa\xfb\xff,x\n")
    with pytest.raises(ImportFailed) as e:
        load_file(path, "generic", "hall")
    err = e.value.errors[0]
    assert err.row == 3 and "UTF-8" in err.reason


def test_missing_required_columns_are_named(tmp_path):
    path = write_csv(tmp_path / "list.csv", [["事项名称", "办理地点"], ["户口登记", "一楼"]])
    with pytest.raises(ImportFailed) as e:
        load_file(path, "generic", "hall")
    assert "事项编码" in str(e.value) and "实施机构" in str(e.value)


def test_every_bad_row_is_reported_with_row_field_and_reason(tmp_path):
    rows = [HEADER, ROWS[0], ["A003", "", "区民政局"], ROWS[0], ["A004", "某事项", "区X局", "行政魔法"]]
    path = write_csv(tmp_path / "list.csv", rows)
    with pytest.raises(ImportFailed) as e:
        load_file(path, "generic", "hall")
    got = {(err.row, err.field) for err in e.value.errors}
    assert (3, "事项名称") in got  # empty name
    assert (4, "事项编码") in got  # duplicate of row 2
    assert (5, "事项类型") in got  # unknown type
    dup = next(err for err in e.value.errors if err.field == "事项编码")
    assert "row 2" in dup.reason and str(path) in str(dup)


def test_xlsx_and_jsonl_give_the_same_items_as_csv(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for row in [HEADER, *ROWS]:
        ws.append(row)
    wb.save(tmp_path / "list.xlsx")
    with open(tmp_path / "list.jsonl", "w", encoding="utf-8") as f:
        for row in ROWS:
            rec = dict(zip(HEADER, row))
            rec["申请材料"] = [{"名称": m, "备注": "原件"} for m in row[4].replace("\n", "；").split("；")]
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    csv_items = load_file(write_csv(tmp_path / "list.csv", [HEADER, *ROWS]), "generic", "h").items
    xlsx_items = load_file(tmp_path / "list.xlsx", "generic", "h").items
    jsonl_items = load_file(tmp_path / "list.jsonl", "generic", "h").items
    assert xlsx_items == csv_items
    assert [i["name"] for i in jsonl_items] == [i["name"] for i in csv_items]
    assert jsonl_items[0]["materials"][0] == {"name": "户口簿", "note": "原件"}


def test_a_50_mb_file_imports_whole(tmp_path, db):
    guide = "申请人身份证明材料原件及复印件；" * 60  # ~1 KB of conditions per row
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["事项编码", "事项名称", "实施机构", "受理条件"])
        n = 0
        while f.tell() < 50 * 1024 * 1024:
            n += 1
            w.writerow([f"C{n:07d}", f"测试事项{n}", f"部门{n % 40}", guide])
    result = store.import_catalogue(db, load_file(path, "generic", "big"))
    assert len(result.added) == n and db["items"].count == n


def test_a_file_over_the_limit_is_refused_clearly(tmp_path, monkeypatch):
    import store.importers as imp

    monkeypatch.setattr(imp, "MAX_IMPORT_BYTES", 1024)
    path = write_csv(tmp_path / "list.csv", [HEADER, *ROWS * 20])
    with pytest.raises(ImportFailed, match="limit"):
        load_file(path, "generic", "hall")


# ------------------------------------------------------ versions, atomic --

def test_reimport_unchanged_is_a_no_op_and_a_change_is_a_new_version_with_a_diff(tmp_path, db):
    path = write_csv(tmp_path / "v1.csv", [HEADER, *ROWS])
    first = store.import_catalogue(db, load_file(path, "generic", "hall"))
    again = store.import_catalogue(db, load_file(path, "generic", "hall"))
    assert again.unchanged and again.version == first.version == 1
    assert db["catalogue_versions"].count == 1

    changed = [ROWS[0][:7] + ["政务中心3楼"] + ROWS[0][8:], ["A009", "新事项", "区人社局"]]
    path2 = write_csv(tmp_path / "v2.csv", [HEADER, *changed])
    second = store.import_catalogue(db, load_file(path2, "generic", "hall"))
    assert (second.version, second.added, second.changed, second.removed) == (2, ["A009"], ["A001"], ["A002"])
    assert store.get_item(db, "hall", "A001")["place"] == "政务中心3楼"
    assert store.get_item(db, "hall", "A002") is None


def test_a_failed_write_leaves_the_previous_version_whole(tmp_path, db):
    store.import_catalogue(db, load_file(write_csv(tmp_path / "v1.csv", [HEADER, *ROWS]), "generic", "hall"))
    data = load_file(write_csv(tmp_path / "v2.csv", [HEADER, ROWS[0]]), "generic", "hall")
    data.items.append(dict(data.items[0]))  # a duplicate code that skipped validation
    with pytest.raises(Exception):
        store.import_catalogue(db, data)
    assert [i["code"] for i in store.items(db, "hall")] == ["A001", "A002"]
    assert store.get_catalogue(db, "hall")["version"] == 1


def test_catalogues_sit_side_by_side(tmp_path, db):
    path = write_csv(tmp_path / "v1.csv", [HEADER, *ROWS])
    store.import_catalogue(db, load_file(path, "generic", "east"))
    store.import_catalogue(db, load_file(path, "generic", "west"))
    assert [c["name"] for c in store.catalogues(db)] == ["east", "west"]
    assert all(c["item_count"] == 2 for c in store.catalogues(db))
