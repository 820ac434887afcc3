import pytest

from retrieval.documents.chunking import ChunkingConfig, chunk_document, split_sentences
from retrieval.models import Span
from retrieval.documents.outline import sections
from retrieval.documents.reading import read_report

from .conftest import SEED_FILES

SEED_NAMES = [p.name for p in SEED_FILES]


@pytest.mark.parametrize("name", SEED_NAMES)
def test_every_chunk_is_the_exact_slice_of_its_file(seed_chunks, seed_documents, name):
    raw = (SEED_FILES[0].parent / name).read_text(encoding="utf-8")
    for chunk in seed_chunks[name]:
        assert raw[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()


@pytest.mark.parametrize("name", SEED_NAMES)
def test_no_chunk_crosses_a_section(seed_chunks, seed_documents, name):
    leafs = sections(seed_documents[name])
    for chunk in seed_chunks[name]:
        holders = [s for s in leafs if s.start <= chunk.start and chunk.end <= s.end]
        assert len(holders) == 1, chunk.text[:40]
        assert holders[0].heading_path == chunk.heading_path


@pytest.mark.parametrize("name", SEED_NAMES)
def test_no_content_is_lost(seed_chunks, seed_documents, name):
    doc = seed_documents[name]
    covered = bytearray(len(doc.text))
    for chunk in seed_chunks[name]:
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    for span in doc.content:
        for i in range(span.start, span.end):
            if not doc.text[i].isspace():
                assert covered[i], f"{name}: {doc.text[i - 10 : i + 10]!r} is in no chunk"


@pytest.mark.parametrize("name", SEED_NAMES)
def test_chunks_respect_the_size_limit(seed_chunks, name):
    assert all(len(c.text) <= ChunkingConfig().max_chars for c in seed_chunks[name])


def test_chunk_ids_are_stable_and_unique(seed_documents, seed_chunks):
    for name, doc in seed_documents.items():
        again = chunk_document(doc)
        assert [c.chunk_id for c in again] == [c.chunk_id for c in seed_chunks[name]]
        assert len({c.chunk_id for c in again}) == len(again)


def test_chunks_carry_their_place_in_the_report(seed_chunks):
    wenzhou = seed_chunks["000_151f93f2618fcf8d.txt"]
    water = next(c for c in wenzhou if "国控断面Ⅰ-Ⅲ类水质比例100%" in c.text)
    assert water.heading_path == ("一、2023年工作总结", "(一)交出护航亚运高分答卷")
    assert (water.city, water.year, water.years) == ("温州", 2023, (2023, 2024))
    plan = next(c for c in wenzhou if "启动新一轮老旧柴油货车淘汰" in c.text)
    assert plan.year == 2024


def sentences(text):
    return [text[s.start : s.end] for s in split_sentences(text, Span(0, len(text)))]


def test_sentences_end_at_chinese_stops_and_lines():
    assert sentences("治水成效明显。空气优良！还有问题？下一步；\n新的一行") == [
        "治水成效明显。", "空气优良！", "还有问题？", "下一步；", "新的一行"]
    # a heading above a paragraph is no part of its first sentence
    assert sentences("一、2023年工作总结\n\n2023年,市局锚定思路。") == ["一、2023年工作总结", "2023年,市局锚定思路。"]


@pytest.mark.parametrize("text", ["PM2.5平均浓度25μg/m3,同比下降2.5%,罚款1.33亿元。"])
def test_sentences_never_split_inside_a_number(text):
    assert sentences(text) == [text]


def test_sentences_never_split_inside_quotes_or_title_marks():
    text = "获得“水质、设施都是迄今见过最好的一个龙舟赛场。”的评价。出台《关于打造新时代“第一等”营商环境；18条措施》。"
    assert sentences(text) == ["获得“水质、设施都是迄今见过最好的一个龙舟赛场。”的评价。",
                               "出台《关于打造新时代“第一等”营商环境；18条措施》。"]


def test_an_unclosed_quote_does_not_swallow_the_report():
    text = "他说“" + "很长的一句话。" * 60
    assert len(sentences(text)) > 10


def test_report_without_headings_is_chunked_by_sentence(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("厦门今年空气很好。" * 80, encoding="utf-8")
    chunks = chunk_document(read_report(path), ChunkingConfig(max_chars=100))
    assert len(chunks) > 5
    assert all(c.heading_path == () and len(c.text) <= 100 for c in chunks)
    assert all(c.text.endswith("。") for c in chunks)


def test_chunking_config_is_checked():
    with pytest.raises(ValueError, match="max_chars"):
        ChunkingConfig(max_chars=5)
