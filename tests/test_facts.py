"""Typed facts: number mentions, extraction on sentences from every seed report, the
indicator vocabulary, and extraction measured against the hand annotations."""

from pathlib import Path

import pytest

from eval.facts_eval import load_gold, score
from retrieval.facts.extraction import extract_facts
from retrieval.facts.numbers import base_quantity, chinese_number, mentions
from retrieval.facts.vocabulary import default_vocabulary
from service.cli import facts_review

from .conftest import GANZHOU, JIAXING, ROOT, SHAOXING, WENZHOU, XIAMEN

VOCABULARY = default_vocabulary()


def said(sentence: str) -> list[tuple[str, float, str, str, str]]:
    return [(sentence[m.start:m.end], m.number, m.unit, m.comparator, m.measure) for m in mentions(sentence)]


@pytest.mark.parametrize("text, number", [("一百二十三", 123), ("两万", 20000), ("三点五", 3.5), ("十", 10), ("九", 9)])
def test_chinese_numerals(text, number):
    assert chinese_number(text) == number


def test_years_dates_names_and_headings_are_not_figures():
    assert said("2023年全市PM2.5平均浓度25μg/m3") == [("25μg/m3", 25.0, "μg/m3", "=", "level")]
    assert said("锚定“12345”总体思路，11月召开，(一)推进，一是强化，唯一，进一步") == []
    assert said("推进落实扬尘治理“7个100%”") == [("100%", 100.0, "%", "=", "level")]
    assert said("组织三轮“守护蓝天百日攻坚”专项行动") == [("三轮", 3.0, "轮", "=", "level")]  # a count of a named campaign


def test_lists_ranges_comparators_and_changes():
    assert said("PM2.5平均浓度分别为21、18.2微克/立方米") == [("21", 21.0, "μg/m3", "=", "level"),
                                                          ("18.2微克/立方米", 18.2, "μg/m3", "=", "level")]
    assert said("PM2.5浓度控制在29微克/立方米以内，优良天数比率达到90%以上")[0][3] == "<="
    assert said("优良天数比率达到90%以上")[0][3] == ">="
    (m,) = mentions("降幅20-30%")
    assert (m.number, m.number_max, m.unit) == (20.0, 30.0, "%")
    assert said("同比下降5.4%")[0][4] == "change" and said("提高20.6个百分点")[0][4] == "change"
    assert said("连续51个月未发生") == [("51个月", 51.0, "个月", "=", "level")]  # a duration, not 51 个
    assert said("注册企业7300多家")[0][1:4] == (7300.0, "家", ">")
    assert said("九成")[0][1:3] == (90.0, "%") and said("水质提升为Ⅱ类")[0][1:3] == (2.0, "类")


def test_base_quantities_compare_across_units():
    assert base_quantity(1.2, "亿元") == pytest.approx((1.2e8, "元")) and base_quantity(12000, "万元")[0] == 1.2e8
    assert base_quantity(97.5, "%") == (97.5, "%") and base_quantity(1.2, "万亿元") == pytest.approx((1.2e12, "元"))
    assert base_quantity(336.81, "万吨/年") == pytest.approx((3368100.0, "吨/年"))


def facts_of(seed_documents, path):
    return extract_facts(seed_documents[Path(path).name], VOCABULARY)


def find(facts, value, text=""):
    found = [f for f in facts if f.value == value and text in f.text]
    assert found, f"no fact {value!r} in a sentence holding {text!r}"
    return found


def test_wenzhou_results_and_plan(seed_documents):
    facts = facts_of(seed_documents, WENZHOU)
    national = [f for f in find(facts, "100%", "国控断面") if f.indicator == "national_section_good_water_share"]
    assert [(f.year, f.kind) for f in national] == [(2023, "achieved"), (2024, "target")]  # 力争…, in 2024年工作思路
    assert national[0].scope == "全市" and national[0].text[national[0].value_span.start - national[0].sentence.start:][:4] == "100%"
    (pm,) = find(facts, "25μg/m3")
    assert pm.indicator == "pm25_concentration" and pm.year == 2023
    (air,) = find(facts, "97.5%")
    assert air.indicator == "good_air_day_rate" and air.rank == "全省第2"


def test_jiaxing_single_line_report(seed_documents):
    facts = facts_of(seed_documents, JIAXING)
    (result,) = [f for f in find(facts, "35微克/立方米") if f.year == 2019]
    assert (result.kind, result.scope, result.indicator) == ("achieved", "市区", "pm25_concentration")
    (target,) = [f for f in find(facts, "35微克/立方米") if f.year == 2020]
    assert target.kind == "target"
    (fine,) = find(facts, "1.33亿元")
    assert fine.indicator == "fines" and fine.number == 1.33 and fine.unit == "亿元"
    # 查办环境违法案件1436件、罚款1.33亿元,均列全省第2位: the rank of both figures
    assert {f.indicator for f in find(facts, "全省第2位", "1436件")} == {"penalty_cases", "fines"}


def test_ganzhou_paired_lists(seed_documents):
    facts = facts_of(seed_documents, GANZHOU)
    (centre,) = find(facts, "21", "分别为")
    (county,) = find(facts, "18.2微克/立方米")
    assert (centre.scope, centre.unit, centre.indicator) == ("市中心城区", "μg/m3", "pm25_concentration")
    assert county.scope == "县级及以上城市"
    assert [f.scope for f in find(facts, "92.5%") + find(facts, "95.3%")] == ["市中心城区", "县级及以上城市"]
    (investment,) = find(facts, "92.7亿元")
    assert investment.indicator == "investment" and investment.kind == "achieved" and investment.year == 2022


def test_shaoxing_plan_only_report_is_all_targets(seed_documents):
    facts = facts_of(seed_documents, SHAOXING)
    assert facts and {f.kind for f in facts} == {"target"}
    (pm,) = find(facts, "29微克/立方米")
    assert pm.indicator == "pm25_concentration" and pm.comparator == "<=" and pm.year == 2023


def test_xiamen_four_hundred_percents(seed_documents):
    facts = facts_of(seed_documents, XIAMEN)
    four = find(facts, "100%", "四个100%")
    assert len(four) == 4 and len({f.value_span for f in four}) == 1
    assert {f.indicator for f in four} == {"drinking_water_source_compliance", "section_compliance_rate"}
    changes = [f.number for f in facts if f.measure == "change" and "分别提升" in f.text]
    assert changes == [7.5, 9.1]
    # the head named once for two figures: 优良水质面积比91.7%、点位比95.5%
    (points,) = find(facts, "95.5%")
    assert points.indicator_text.endswith("优良水质点位比") and points.indicator == "nearshore_good_water_share"
    (excellent,) = find(facts, "70.8%")
    assert excellent.indicator_text == "空气质量优级率"  # after 空气质量优良率99.5%
    # a rank that names nothing is the rank of the figure before it
    (rank,) = [f for f in find(facts, "全国排名第3") if f.measure == "rank"]
    assert (rank.indicator, rank.number) == ("air_quality_index", 3)


def test_a_short_label_takes_a_head_only_for_a_name_the_vocabulary_knows():
    from retrieval.documents.reading import document_from_bytes

    text = "# 2023年工作总结\n\n全市森林覆盖率66.3%、绿化率45.2%。投诉总量持续大幅下降12.5%。\n"
    facts = extract_facts(document_from_bytes(text.encode(), "x", "seeds/x.md", "x.md"), VOCABULARY)
    assert [(f.value, f.indicator_text) for f in facts] == [("66.3%", "森林覆盖率"), ("45.2%", "绿化率"),
                                                            ("12.5%", "投诉总量")]  # not 森林绿化率; no 持续大幅下降



def test_years_running_are_a_duration_of_what_ran():
    from retrieval.documents.reading import document_from_bytes

    assert said("连续第四年被评为优秀单位") == [("四年", 4.0, "年", "=", "level")]
    assert said("全省第四，第3年") == []  # a rank and an ordinal year are no durations
    text = "# 2023年工作总结\n\n我局连续第四年被评为美丽浙江建设优秀单位。\n"
    facts = extract_facts(document_from_bytes(text.encode(), "x", "seeds/x.md", "x.md"), VOCABULARY)
    assert [(f.number, f.unit, f.indicator_text) for f in facts] == [(4.0, "年", "被评为美丽浙江建设优秀单位")]


def test_after_a_bare_verb_the_figure_names_what_follows_it():
    from retrieval.documents.reading import document_from_bytes

    text = "# 2023年工作总结\n\n新增1200亩城市绿地，修复3.5公里生态河岸。压缩审批时限420个工作日。\n"
    facts = extract_facts(document_from_bytes(text.encode(), "x", "seeds/x.md", "x.md"), VOCABULARY)
    assert [(f.value, f.indicator_text, f.unit) for f in facts] == [
        ("1200亩", "城市绿地", "亩"), ("3.5公里", "生态河岸", "公里"), ("420个工作日", "压缩审批时限", "个工作日")]
    text = "# 2023年工作总结\n\n罚款2150万元同比增长12%，投入3.2亿元用于污水管网建设，水质100%达标。\n"
    facts = extract_facts(document_from_bytes(text.encode(), "x", "seeds/x.md", "x.md"), VOCABULARY)
    named = {f.value: f.indicator_text for f in facts}  # a name before it, or words saying something else after
    assert (named["2150万元"], named["3.2亿元"], named["100%"]) == ("罚款", "投入", "水质达标")
    text = "# 2019年工作总结\n\n共增加人员编制69个(市局27个、各分局42个)。\n"
    facts = extract_facts(document_from_bytes(text.encode(), "x", "seeds/x.md", "x.md"), VOCABULARY)
    assert facts[0].indicator_text.endswith("增加人员编制")  # a breakdown in brackets follows, not the thing counted
    assert [f.indicator_text for f in facts[1:]] == ["市局增加人员编制", "各分局增加人员编制"]  # its parts

def test_every_fact_cites_its_sentence_and_value_exactly(seed_documents):
    for doc in seed_documents.values():
        for f in extract_facts(doc, VOCABULARY):
            assert doc.text[f.sentence.start : f.sentence.end] == f.text
            assert doc.text[f.value_span.start : f.value_span.end] == f.value
            assert f.sentence.start <= f.value_span.start and f.value_span.end <= f.sentence.end


@pytest.mark.parametrize("doc_id", ["002_14e99ec946930a51", "004_68a3d04b2fc60ef8"])
def test_extraction_against_the_hand_annotations(seed_documents, doc_id):
    s = score(doc_id, list(extract_facts(seed_documents[f"{doc_id}.txt"], VOCABULARY)), load_gold(doc_id))
    assert s.precision >= 0.90 and s.recall >= 0.85, (s.precision, s.recall)
    assert s.agreement["kind"] >= 0.9 and s.agreement["year"] >= 0.95


def test_the_review_file_shows_the_current_extraction(seed_documents):
    committed = (ROOT / "eval" / "facts_review.md").read_text(encoding="utf-8")
    assert facts_review(seed_documents.values(), VOCABULARY) + "\n" == committed, \
        "extraction changed: run `reportqa facts --all > eval/facts_review.md` and review the diff"


def test_vocabulary_names_indicators_in_either_language():
    def ids(question):
        return [m.indicator.indicator_id for m in VOCABULARY.mentioned(question)]

    assert ids("温州2023年PM2.5浓度") == ["pm25_concentration"]
    assert ids("share of provincial-controlled (and above) sections") == ["provincial_section_good_water_share"]
    assert ids("Xiamen's good-air-day rate") == ["good_air_day_rate"]
    assert ids("how much was invested in 2023") == ["investment"]  # an inflection of the name
    assert ids("after the soil investigations") == []  # another word that starts alike
    assert ids("How many administrative penalties did Jiaxing impose?") == ["penalty_cases"]  # penalty, penalties
    assert VOCABULARY.canonical("省控及以上断面Ⅰ-Ⅲ类水质比例", "%") == "provincial_section_good_water_share"
    assert VOCABULARY.canonical("罚款金额", "件") is None  # units must agree
    assert VOCABULARY.canonical("销号率", "%") == "closure_rate" and "closure_rate" in ids("what share of the cases were closed out")
