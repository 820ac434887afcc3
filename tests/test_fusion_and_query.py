import copy

import pytest

from retrieval.search.fusion import FUSION_METHODS, fuse, rrf, weighted_scores
from retrieval.models import Hit
from retrieval.search.query import QueryAnalyzer
from retrieval.text.tokenize import Tokenizer


def hits(*ids, scores=None):
    scores = scores or [10.0 - i for i in range(len(ids))]
    return [Hit(cid, s, rank) for rank, (cid, s) in enumerate(zip(ids, scores), start=1)]


def test_rrf_uses_k_60_and_one_based_ranks():
    fused = dict(rrf([(1.0, hits("a", "b")), (1.0, hits("b", "c"))]))
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61)


def test_rrf_breaks_ties_by_id():
    fused = rrf([(1.0, hits("z")), (1.0, hits("a"))])
    assert [cid for cid, _ in fused] == ["a", "z"]


def test_weighted_scores_normalise_each_ranking():
    fused = dict(weighted_scores([(1.0, hits("a", "b", scores=[30.0, 10.0])), (0.5, hits("b", "a", scores=[0.9, 0.7]))]))
    assert fused["a"] == pytest.approx(1.0 + 0.0)
    assert fused["b"] == pytest.approx(0.0 + 0.5)


@pytest.mark.parametrize("method", FUSION_METHODS)
@pytest.mark.parametrize("rankings", [[], [(1.0, [])], [(1.0, []), (1.0, [])]])
def test_fusion_of_nothing_is_nothing(method, rankings):
    assert fuse(method, rankings) == []


@pytest.mark.parametrize("method", FUSION_METHODS)
def test_fusion_does_not_change_its_inputs(method):
    rankings = [(1.0, hits("a", "b")), (1.0, hits("c"))]
    before = copy.deepcopy(rankings)
    fuse(method, rankings)
    assert rankings == before


def test_unknown_fusion_lists_the_valid_ones():
    with pytest.raises(ValueError, match="rrf, weighted"):
        fuse("max", [])


@pytest.fixture(scope="module")
def analyzer():
    return QueryAnalyzer(Tokenizer())


@pytest.mark.parametrize("question, cities, language", [
    ("赣州美丽建设项目完成了多少投资", ("赣州",), "zh"),
    ("溫州危廢跨區域處置補償機制", ("温州",), "zh-hant"),
    ("What was Wenzhou's PM2.5 in 2023?", ("温州",), "en"),
    ("Compare Xiamen and Amoy with Shaoxing", ("厦门", "绍兴"), "en"),
    ("廈門空氣質量", ("厦门",), "zh-hant"),
    ("What does Wenzhou's 'Zero-Waste City' (无废城市) work involve?", ("温州",), "en"),  # quotes a Chinese term
    ("温州 PM2.5 2023", ("温州",), "zh"),
    ("厦门PM2.5 PM10 NO2", ("厦门",), "zh"),  # pollutant names are no English
    ("How many 无废细胞 does Shaoxing plan?", ("绍兴",), "en"),
])
def test_cities_are_recognised_in_any_script(analyzer, question, cities, language):
    analysis = analyzer.analyze(question)
    assert analysis.cities == cities
    assert analysis.language == language


def test_years_are_recognised(analyzer):
    assert analyzer.analyze("温州2023年和2024年的目标").years == (2023, 2024)


@pytest.mark.parametrize("question, across", [
    ("哪个城市空气优良率最高", True),
    ("which city achieved 100% national-section water quality", True),
    ("比较各城市罚款金额", True),
    ("温州和厦门的空气质量", True),
    ("温州空气质量", False),
])
def test_questions_across_cities(analyzer, question, across):
    assert analyzer.analyze(question).across_cities is across


def test_english_questions_reach_bm25_through_the_glossary(analyzer):
    tokens = analyzer.analyze("which city achieved 100% national-section water quality").tokens
    assert {"国控断面", "水质"} <= set(tokens)
    assert "危废" in analyzer.analyze("hazardous waste disposal").tokens


def test_a_glossary_phrase_is_found_in_the_plural_too(analyzer):
    assert "上级" in analyzer.analyze("funds from higher-level governments").glossary
    assert "处置能力 处理能力" in analyzer.analyze("handling capacities of Jiaxing").glossary


def test_a_hyphenated_phrase_is_the_phrase(analyzer):
    assert "告知承诺制" in analyzer.analyze("a notification-and-commitment procedure").glossary


def test_a_plural_glossary_phrase_is_its_singular_too(analyzer):
    assert "移动源" in " ".join(analyzer.analyze("plans for mobile-source pollution").glossary)
    # "nature reserve" and "nature reserves" are one phrase with the terms of both entries
    glossary = " ".join(analyzer.analyze("oversight of a nature reserve").glossary)
    assert "自然" in glossary and "保护地" in glossary
    assert "边角料" not in " ".join(analyzer.analyze("scrap old forklifts").glossary)  # scraps: one word may be a verb


def test_a_longer_glossary_phrase_around_an_indicator_name_says_which_of_its_names(analyzer):
    # "outfalls" names the indicator; "sea outfalls" says which: 入海排口, not 入河排污口
    glossary = " ".join(analyzer.analyze("Which cities regulated their sea outfalls?").glossary)
    assert "入海排口" in glossary and "入河排污口" not in glossary
    # "volatile organic" names emission_reduction, of every major pollutant; the compound is one of them
    glossary = " ".join(analyzer.analyze("Which cities have volatile organic compound treatment projects?").glossary)
    assert "挥发性有机物" in glossary and "氨氮" not in glossary
    assert "氨氮" in " ".join(analyzer.analyze("How much did Jiaxing's emission reduction reach?").glossary)


def test_english_questions_also_reach_bm25_through_the_indicator_vocabulary(analyzer):
    analysis = analyzer.analyze("What was the fine particulate concentration in Wenzhou?")
    assert "细颗粒物" in " ".join(analysis.glossary) and "pm2.5" in analysis.tokens
    assert "罚款" not in analysis.glossary  # the indicator's name is read first: this "fine" is no fine
    assert "罚款" in " ".join(analyzer.analyze("fines imposed in Wenzhou").glossary)
    assert "细颗粒物" not in " ".join(QueryAnalyzer(Tokenizer(), vocabulary_path=None).analyze("fine particulate").glossary)


def test_domain_synonyms_are_looked_for_too(analyzer):
    assert "问责" in analyzer.analyze("嘉兴有多少干部被追责").synonym_tokens
    assert "国考" in analyzer.analyze("温州国控断面水质").synonym_tokens  # found inside the compound
    assert analyzer.analyze("温州空气质量").synonym_tokens == ()
