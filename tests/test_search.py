"""Ranking above the backend boundary: citations, boosts, highlights, filters, diversity."""

import pytest

from retrieval.backends.base import Filters
from retrieval.search.searcher import SearchConfig


def test_search_returns_exact_citations(fake_engine, project):
    outcome = fake_engine.search("温州国控断面水质比例", k=5)
    assert outcome.results
    for r in outcome.results:
        raw = (project / r.chunk.path).read_text(encoding="utf-8")
        assert raw[r.chunk.start : r.chunk.end] == r.chunk.text
        for s, e in r.highlights:
            assert 0 <= s < e <= len(r.chunk.text)


def test_city_named_in_the_question_comes_first(fake_engine):
    outcome = fake_engine.search("温州国控断面水质比例", k=3)
    assert outcome.results[0].chunk.city == "温州"
    assert "city:温州" in outcome.results[0].explanation.boosts


def test_highlights_mark_what_matched_even_across_scripts(fake_engine):
    result = fake_engine.search("溫州國控斷面", k=1).results[0]
    marked = [result.chunk.text[s:e] for s, e in result.highlights]
    assert "国控断面" in marked


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_filters_keep_only_matching_reports(fake_engine, mode):
    outcome = fake_engine.search("空气质量优良率", k=10, mode=mode, filters=Filters(cities=("厦门",)))
    assert outcome.results and {r.chunk.city for r in outcome.results} == {"厦门"}
    outcome = fake_engine.search("空气质量优良率", k=10, mode=mode, filters=Filters(years=(2019,)))
    assert outcome.results and {r.chunk.city for r in outcome.results} == {"嘉兴"}


def test_questions_across_cities_cover_each_report(fake_engine):
    outcome = fake_engine.search("哪个城市空气优良率最高", k=5)
    assert len({r.chunk.doc_id for r in outcome.results}) == 5


def test_every_hit_explains_itself(fake_engine):
    result = fake_engine.search("赣州美丽建设项目完成投资", k=1).results[0]
    e = result.explanation
    assert e.bm25_rank is not None and e.bm25_score > 0
    assert e.dense_rank is not None and -1 <= e.dense_score <= 1


def test_bad_configuration_fails_early_with_the_valid_values():
    with pytest.raises(ValueError, match="rrf, weighted"):
        SearchConfig(fusion="borda")


def test_unknown_mode_is_refused(fake_engine):
    with pytest.raises(ValueError, match="hybrid, bm25, dense"):
        fake_engine.search("水质", mode="sparse")


def test_a_passage_that_never_names_its_city_still_matches_it(fake_engine, seed_chunks):
    # This Wenzhou passage says 全市 (the whole city), never 温州: its indexed context does.
    chunk = next(c for chunks in seed_chunks.values() for c in chunks if "启动新一轮老旧柴油货车淘汰" in c.text)
    assert "温州" not in chunk.text
    results = fake_engine.search("温州柴油货车淘汰", k=3, mode="bm25").results
    assert chunk.chunk_id in [r.chunk.chunk_id for r in results]


def test_a_coinage_asked_without_its_quotation_marks_is_found(fake_engine):
    # the report writes “五书同达”; the question's cut (五书同/达) shares no token with the report's
    question = "五书同达是什么机制"
    found = lambda config: fake_engine.searcher(config).search(question, 1, "bm25").results[0].chunk.text  # noqa: E731
    assert "五书同达" in found(SearchConfig())
    assert "五书同达" not in found(SearchConfig(coined_terms=False))


def test_a_passage_with_a_matching_sentence_ranks_on_it(fake_engine):
    result = fake_engine.search("赣州美丽建设项目完成投资", k=1).results[0]
    assert result.explanation.sentence_score is not None and -1 <= result.explanation.sentence_score <= 1
    bm25 = fake_engine.searcher(SearchConfig()).search("赣州美丽建设项目完成投资", 1, "bm25").results[0]
    assert bm25.explanation.sentence_score is None  # only hybrid ranks on sentences


def test_a_report_with_little_on_the_question_is_not_brought_forward(fake_engine):
    question = "哪些城市开展了减污降碳协同试点"

    def brought_forward(floor):  # results placed ahead of a better-scored one: a report's best
        results = fake_engine.searcher(SearchConfig(report_floor=floor)).search(question, 50).results
        return results[0].score, [r for i, r in enumerate(results) if any(o.score > r.score for o in results[i + 1:])]

    top, padded = brought_forward(0.0)
    assert any(r.score < 0.5 * top for r in padded)  # with no floor, weak reports jump ahead
    top, brought = brought_forward(0.5)
    assert brought and all(r.score >= 0.5 * top for r in brought)



def test_which_city_brings_forward_each_reports_results_not_its_plans(fake_engine):
    from retrieval.facts.extraction import tells_results

    documents = fake_engine.view().documents()

    def ranking(results_first: bool, question: str):
        return fake_engine.searcher(SearchConfig(results_first=results_first)).search(question, 50).results

    def plans_first(results: list) -> list[str]:
        """Reports whose plan passage ranks ahead of a results passage good enough to be brought forward."""
        floor = results[0].score * SearchConfig.report_floor
        out = []
        for doc_id in sorted({r.chunk.doc_id for r in results}):
            mine = [r for r in results if r.chunk.doc_id == doc_id and r is not results[0]]
            telling = [r for r in mine if tells_results(r.chunk, documents[doc_id])]
            if telling and telling[0].score >= floor and not tells_results(mine[0].chunk, documents[doc_id]):
                out.append(doc_id)
        return out

    questions = ["哪些城市国控断面水质达到100%", "哪些城市开展了减污降碳协同试点", "哪些城市在治理柴油货车污染"]
    assert any(plans_first(ranking(False, q)) for q in questions)  # by score alone, a plan can be a report's best
    assert not any(plans_first(ranking(True, q)) for q in questions)
    assert all(ranking(True, q)[0].chunk.chunk_id == ranking(False, q)[0].chunk.chunk_id for q in questions)  # the best stays first
    for about_plans in ("哪些城市计划开展减污降碳协同试点", "哪些城市提出到2025年建成减污降碳协同试点"):
        assert [r.chunk.chunk_id for r in ranking(True, about_plans)] == [r.chunk.chunk_id for r in ranking(False, about_plans)]


def test_a_question_about_targets_lifts_the_passages_of_plans(fake_engine):
    from retrieval.facts.extraction import tells_results

    documents = fake_engine.view().documents()
    question = "温州明年的水质目标是什么"

    def plan_ranks(plan_boost: float) -> list[int]:
        results = fake_engine.searcher(SearchConfig(plan_boost=plan_boost)).search(question, 50).results
        return [r.rank for r in results if not tells_results(r.chunk, documents[r.chunk.doc_id])]

    lifted, unlifted = plan_ranks(SearchConfig.plan_boost), plan_ranks(0.0)
    assert lifted[0] <= unlifted[0] and sum(lifted[:3]) < sum(unlifted[:3])
    assert not any("plan" in r.explanation.boosts for r in fake_engine.search("温州的水质怎么样", k=20).results)

def test_a_question_about_what_was_done_lifts_the_passages_of_results(fake_engine):
    from retrieval.facts.extraction import tells_results
    from retrieval.search.query import asks_results

    assert asks_results("What did Xiamen achieve on noise?") and asks_results("赣州已建成多少个站点")
    assert not asks_results("温州如何治水") and not asks_results("What will Wenzhou do next year?")
    assert not asks_results("温州了解群众诉求的渠道")  # 了解 is no 了 of completion
    documents = fake_engine.view().documents()
    results = fake_engine.search("温州完成了哪些治水工作", k=10).results
    lifted = [r for r in results if "results" in r.explanation.boosts]
    assert lifted and all(tells_results(r.chunk, documents[r.chunk.doc_id]) for r in lifted)


def test_feedback_adds_the_top_passages_terms_for_english(fake_engine):
    from retrieval.search.searcher import Searcher

    searcher = fake_engine.searcher(SearchConfig(feedback_terms=3))
    analysis = searcher.analyzer.analyze("air quality of Xiamen")
    extra = Searcher._lexical_tokens(searcher, analysis)[len(analysis.tokens) + len(analysis.synonym_tokens):]
    assert 1 <= len(extra) and all(any("\u4e00" <= ch <= "\u9fff" for ch in t) or t.isalnum() for t in extra)
    chinese = searcher.analyzer.analyze("厦门空气质量")
    assert fake_engine.searcher(SearchConfig(feedback_terms=3, coined_terms=False))._lexical_tokens(chinese) == \
        chinese.tokens + chinese.synonym_tokens  # Chinese questions get none
