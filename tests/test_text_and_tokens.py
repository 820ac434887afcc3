import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from retrieval.backends.local.bm25 import BM25Index, BM25Params
from retrieval.text.normalize import normalize, normalize_text
from retrieval.text.tokenize import Tokenizer, TokenizerConfig


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer()


@pytest.mark.parametrize("raw, normal", [
    ("ＰＭ２．５平均浓度", "pm2.5平均浓度"),
    ("溫州危廢跨區域處置補償機制", "温州危废跨区域处置补偿机制"),
    ("Ⅰ-Ⅲ类水质", "1-3类水质"),
    ("II类水质", "2类水质"),
    ("EOD项目", "eod项目"),
    ("（一）治水", "(一)治水"),
])
def test_one_normal_form_for_chunks_and_queries(raw, normal):
    assert normalize_text(raw) == normal


def test_normal_form_maps_back_to_source_offsets():
    text = "全市国控断面Ⅰ-Ⅲ类水质比例100%"
    norm = normalize(text)
    start = norm.text.index("水质")
    s, e = norm.source_span(start, start + 2)
    assert text[s:e] == "水质"


def test_domain_words_stay_whole(tokenizer):
    tokens = tokenizer.tokens("全市国控断面水质优良率提升,无废城市建设和减污降碳协同,PM2.5和VOCs治理,EOD项目")
    for word in ("国控断面", "优良率", "无废城市", "减污降碳", "pm2.5", "vocs", "eod"):
        assert word in tokens


def test_question_words_are_dropped_from_queries_only(tokenizer):
    assert "多少" not in tokenizer.tokens("赣州完成了多少投资", query=True)
    assert {"赣州", "投资"} <= set(tokenizer.tokens("赣州完成了多少投资", query=True))
    assert "which" not in tokenizer.tokens("which city", query=True)


def test_stop_words_and_punctuation_are_dropped(tokenizer):
    tokens = tokenizer.tokens("温州的水质,和空气。")
    assert "的" not in tokens and "," not in tokens and "。" not in tokens


def test_traditional_query_meets_simplified_report(tokenizer):
    assert set(tokenizer.tokens("溫州危廢", query=True)) == set(tokenizer.tokens("温州危废"))


def test_token_offsets_point_into_the_source(tokenizer):
    text = "廈門空氣質量"
    for token in tokenizer.tokens_with_offsets(text):
        assert normalize_text(text[token.start : token.end]) == token.text


def test_bm25_scores_agree_with_rank_bm25(tokenizer, seed_chunks):
    corpus = [tokenizer.tokens(c.context()) for chunks in seed_chunks.values() for c in chunks]
    ours, oracle = BM25Index(corpus), BM25Okapi(corpus)
    for query in ["温州国控断面水质比例", "赣州美丽建设项目投资", "厦门空气质量全国排名", "危废 危废 填埋", "不存在的词"]:
        tokens = tokenizer.tokens(query, query=True)
        assert np.allclose(ours.scores(tokens), oracle.get_scores(tokens), rtol=1e-4, atol=1e-4)


def test_bm25_parameters_are_checked():
    with pytest.raises(ValueError, match="k1"):
        BM25Params(b=2.0)


def test_bm25_on_an_empty_query_or_corpus():
    assert BM25Index([["a"]]).scores([]).tolist() == [0.0]
    assert BM25Index([]).scores(["a"]).size == 0


def test_a_term_a_report_marks_is_also_one_whole_token(tokenizer):
    # jieba cuts 五书同达 as 五书/同达 here and as 五书同/达 in a question: the marked whole joins both
    tokens = tokenizer.tokens("推行“五书同达”机制,出台《嘉兴市生态环境保护条例》,“12345”热线")
    assert {"五书同达", "嘉兴市生态环境保护条例"} <= set(tokens)
    assert "12345" in tokens and tokens.count("12345") == 1  # already whole: not added twice
    assert "五书同达" in tokenizer.tokens("“五书同达”是什么", query=True)


def test_a_phrase_a_report_repeats_is_also_one_whole_token(tokenizer):
    # jieba cuts the unmarked 五书同达 as 五书/同达 in this report and as 五书同/达 in a question
    report = "全面推行五书同达机制。五书同达覆盖全部案件。我们将深化五书同达。"
    assert tokenizer.repeated_phrases(report) == {"五书同达"}
    assert tokenizer.repeated_phrases(report[:22]) == frozenset()  # said twice: not yet the report's own term
    tokens = tokenizer.tokens_with_offsets("深化五书同达。", phrases=frozenset({"五书同达"}))
    assert [(t.start, t.end) for t in tokens if t.text == "五书同达"] == [(2, 6)]
    assert "五书同达" not in tokenizer.tokens("五书同达是什么机制", query=True)  # the searcher completes it


def test_repeated_phrases_are_whole_words_and_not_just_the_inside_of_a_longer_one(tokenizer):
    report = "推进码头岸电建设。码头岸电覆盖率提高。新建码头岸电设施。2023年工作。2024年工作。2025年工作。"
    assert tokenizer.repeated_phrases(report) == {"码头岸电"}  # not 年工作: no phrase starts on one character
    longer = "码头岸电设施建成。码头岸电设施投用。码头岸电设施全覆盖。"
    assert tokenizer.repeated_phrases(longer) == {"码头岸电设施"}  # 码头岸电 is only ever inside it


def test_a_report_s_phrases_are_its_own_tokens_only(project):
    from retrieval.documents.reading import document_from_bytes
    from retrieval.embedding.encoders import HashingEncoder
    from retrieval.indexing import Indexer

    repeats = "# 工作总结\n\n推进码头岸电建设。码头岸电覆盖率提高。新建码头岸电设施。\n"
    once = "# 工作总结\n\n新建码头岸电设施。\n"
    docs = [document_from_bytes(text.encode(), name, f"seeds/{name}", name) for name, text in
            (("a.md", repeats), ("b.md", once))]
    indexed = Indexer(Tokenizer(), HashingEncoder(16)).index(docs)
    assert any("码头岸电" in tokens for tokens in indexed[0].tokens)
    assert not any("码头岸电" in tokens for tokens in indexed[1].tokens)  # adding a changes none of b's
    assert Tokenizer(TokenizerConfig(phrase_repeats=0)).repeated_phrases(repeats) == frozenset()
    with pytest.raises(ValueError, match="phrase_repeats"):
        TokenizerConfig(phrase_repeats=1)
