from retrieval.documents.outline import find_headings
from retrieval.documents.reading import read_report


def titles(doc, level):
    return [h.title for h in find_headings(doc) if h.level == level]


def test_xiamen_top_level_sections(seed_documents):
    assert titles(seed_documents["004_68a3d04b2fc60ef8.txt"], 1) == [
        "一、坚持改革创新,生态文明建设取得新突破",
        "二、坚持协同创新,生态环境质量跃上新高度",
        "三、坚持服务创新,助力高质量发展跑出新速度",
        "四、坚持党建创新,生态环保铁军建设凝聚新合力",
    ]
    assert len(titles(seed_documents["004_68a3d04b2fc60ef8.txt"], 2)) == 12


def test_wenzhou_outline_with_inline_headings(seed_documents):
    doc = seed_documents["000_151f93f2618fcf8d.txt"]
    assert titles(doc, 1) == ["一、2023年工作总结", "二、2024年工作思路"]
    # "(一)交出护航亚运高分答卷。治水方面…": the heading ends where its sentence does.
    assert titles(doc, 2)[0] == "(一)交出护航亚运高分答卷"
    assert len(titles(doc, 2)) == 12
    assert "一是助力打造最优营商环境" in titles(doc, 4)


def test_single_line_report_has_parts_and_every_level(seed_documents):
    doc = seed_documents["001_2745b7006e9c4330.txt"]  # one 12,000-character line
    assert titles(doc, 0) == ["2019年工作总结", "2020年工作要点"]
    assert titles(doc, 1) == ["一、主要工作成效", "二、主要工作完成情况", "一、主要目标", "二、主要工作举措"]
    assert titles(doc, 2)[0] == "(一)加强统筹协调,美丽嘉兴建设有力有效"
    assert titles(doc, 3)[0] == "1.落实“党政同责、一岗双责”"
    assert titles(doc, 4)[:2] == ["一是环境质量提升", "二是固废处置监管能力提升"]


def test_ganzhou_title_lines_are_not_headings(seed_documents):
    doc = seed_documents["002_14e99ec946930a51.txt"]
    assert titles(doc, 0) == []
    assert titles(doc, 1) == ["一、2022年工作情况", "二、2023年工作打算"]
    assert "一是持续做好顶层设计" in titles(doc, 4)  # inline after "(一)全面实施美丽赣州建设行动。"


def test_report_starting_mid_sentence_has_numbered_headings(seed_documents):
    doc = seed_documents["003_fef59689896b1677.txt"]
    assert titles(doc, 3)[:2] == ["1.不断深化生态文明示范创建", "2.统筹推进美丽绍兴建设"]
    assert len(titles(doc, 3)) == 20


def test_full_width_parentheses_and_decimals(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("温州市生态环境局工作总结\n（一）治水成效\n水质比例提升2.5个百分点。\n1.33亿元罚款已收缴。\n", encoding="utf-8")
    doc = read_report(path)
    assert [(h.level, h.title) for h in find_headings(doc)] == [(2, "（一）治水成效")]
