from pathlib import Path

import pytest

from retrieval.documents.reading import ReportError, decode_report, read_report, read_reports

from .conftest import SEED_FILES

EXPECTED_METADATA = {
    # file: (city, bureau, title, derived, summary year, plan year, published)
    "000_151f93f2618fcf8d.txt": ("温州", "温州市生态环境局", "温州市生态环境局2023年工作总结和2024年工作思路", False, 2023, 2024, "2024-01-23"),
    "001_2745b7006e9c4330.txt": ("嘉兴", "嘉兴市生态环境局", "嘉兴市生态环境局2019年工作总结和2020年工作要点", False, 2019, 2020, None),
    "002_14e99ec946930a51.txt": ("赣州", "赣州市生态环境局", "赣州市生态环境局2022年工作总结和2023年工作计划", False, 2022, 2023, None),
    "003_fef59689896b1677.txt": ("绍兴", "绍兴市生态环境局", "绍兴市生态环境局2023年工作计划", True, None, 2023, None),
    "004_68a3d04b2fc60ef8.txt": ("厦门", "厦门市生态环境局", "厦门市生态环境局2024年生态环境保护工作总结", False, 2024, None, "2025-02-18"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_METADATA))
def test_each_seed_has_its_metadata(seed_documents, name):
    doc = seed_documents[name]
    assert (doc.city, doc.bureau, doc.title, doc.title_derived, doc.summary_year, doc.plan_year,
            doc.published) == EXPECTED_METADATA[name]
    assert doc.encoding == "utf-8"


def content_text(doc) -> str:
    return "\n".join(doc.text[s.start : s.end] for s in doc.content)


@pytest.mark.parametrize("furniture", ["【打印本页】", "【关闭本页】", "打印本页 关闭窗口", "闽ICP备05025399号-4",
                                       "技术支持:厦门市信息中心", "相关文章", "索 引 号", "生成日期", "浏览次数"])
def test_web_page_furniture_is_kept_out_of_the_content(seed_documents, furniture):
    for doc in seed_documents.values():
        assert furniture not in content_text(doc)


def test_content_keeps_its_offsets_in_the_original_file(seed_documents):
    xiamen = seed_documents["004_68a3d04b2fc60ef8.txt"]
    first = xiamen.content[0]
    assert xiamen.text[first.start : first.start + 5] == "2024年"
    assert first.start > 0  # the metadata table before it is furniture


def test_gbk_report_is_detected_and_decoded(tmp_path):
    text = "温州市生态环境局2023年工作总结\n一、主要成效\n全市国控断面水质比例100%。"
    path = tmp_path / "gbk_report.txt"
    path.write_bytes(text.encode("gbk"))
    doc = read_report(path)
    assert doc.encoding == "gbk"
    assert doc.text == text
    assert doc.city == "温州"


@pytest.mark.parametrize("data, problem", [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("café au lait ".encode("latin-1") * 3, "neither UTF-8 nor GBK"),
])
def test_unreadable_bytes_are_named(data, problem):
    with pytest.raises(ReportError, match=problem):
        decode_report(data)


def test_one_bad_file_does_not_stop_the_others(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("嘉兴市生态环境局2019年工作总结\n全年罚款1.33亿元。", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01\x02" * 10)
    documents, problems = read_reports([empty, good, binary])
    assert [d.doc_id for d in documents] == ["good"]
    assert {Path(p.path).name for p in problems} == {"empty.txt", "binary.txt"}
    assert all(Path(p.path).name in p.message for p in problems)


def test_a_page_of_only_furniture_is_refused(tmp_path):
    path = tmp_path / "furniture.txt"
    path.write_text("|||\n【打印本页】 【关闭本页】\n", encoding="utf-8")
    with pytest.raises(ReportError, match="no report text"):
        read_report(path)


def test_all_seeds_are_read(seed_documents):
    assert len(seed_documents) == len(SEED_FILES) == 5
