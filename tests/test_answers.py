"""Typed answers over the seed collection (deterministic hashing encoder): the kind a
question asks for, only achievements counted as achievements, a citation in every cell,
and refusals that say why."""

import re
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from retrieval.answers.intent import read_intent, unit_fits
from service.app import ServiceConfig, create_app

from .conftest import ROOT
from .test_cli import reportqa

README_QUESTION = "which city achieved 100% national-section water quality"


def test_which_city_lists_only_achievements(fake_engine):
    a = fake_engine.ask(README_QUESTION)
    assert a.kind == "cities" and set(a.cities) == {"温州", "赣州"}
    assert {(f.city, f.year, f.kind) for f in a.facts} == {("温州", 2023, "achieved"), ("赣州", 2022, "achieved")}
    assert "绍兴" not in a.cities and all(f.kind == "target" for f in a.targets)
    assert all(f.indicator == "national_section_good_water_share" for f in a.facts)  # 厦门's 达标率 is another indicator


def test_a_single_value_with_its_year_and_kind(fake_engine):
    (best, *_) = fake_engine.ask("温州2023年PM2.5浓度是多少").facts
    assert (best.value, best.year, best.kind) == ("25μg/m3", 2023, "achieved")
    target = fake_engine.ask("绍兴2023年空气质量优良天数比例目标是多少")
    assert target.kind == "value" and (target.facts[0].number, target.facts[0].kind) == (90.0, "target")


def test_a_table_has_a_row_per_city_and_says_where_there_is_none(fake_engine):
    a = fake_engine.ask("各市PM2.5浓度对比")
    assert a.kind == "table"
    rows = {(r.city, r.fact.year if r.fact else None, r.fact.kind if r.fact else None): r.fact for r in a.rows}
    assert rows[("温州", 2023, "achieved")].value == "25μg/m3"
    assert rows[("绍兴", 2023, "target")].number == 29.0
    assert rows[("厦门", None, None)] is None  # its report states no PM2.5 concentration


def test_a_city_named_beside_every_city_qualifies_the_table_not_narrows_it(fake_engine):
    a = fake_engine.ask("各市PM2.5浓度对比（赣州取中心城区）")
    assert a.kind == "table" and {r.city for r in a.rows} == {"温州", "嘉兴", "赣州", "绍兴", "厦门"}
    year = fake_engine.ask("各市2019年PM2.5浓度对比（赣州取中心城区）")  # 嘉兴 covers 2019, 赣州 does not
    assert year.kind == "table" and any(r.fact and r.city == "嘉兴" for r in year.rows)
    reports = fake_engine.ask("A table of good-air-day rates in all five reports; for Ganzhou use the central urban area")
    assert reports.kind == "table" and len({r.city for r in reports.rows}) == 5  # every report is every city
    own = fake_engine.ask("嘉兴各地PM2.5浓度对比")  # 嘉兴's own districts
    assert {r.city for r in own.rows} == {"嘉兴"}


@pytest.mark.parametrize("question, reason", [
    ("杭州2023年PM2.5浓度是多少", "no_city"),
    ("嘉兴2023年空气优良率是多少", "other_years"),
    ("温州2023年全市PM10平均浓度是多少", "no_indicator"),
    ("温州的常住人口有多少", "no_indicator"),
    ("2022年卡塔尔世界杯冠军是哪支球队", "off_topic"),
    ("How many tourists visited Wenzhou in 2023?", "off_topic"),  # none of the domain's terms, beside a city
    ("Who won Shaoxing's marathon in 2023?", "off_topic"),
    ("How many times did 温州市 host the marathon?", "off_topic"),  # a counted unit and a Chinese city name
    ("西湖游船的票价多少钱", "off_topic"),  # a figure asked of nothing the reports hold, no city
    ("What is the euro to yen exchange rate this week?", "off_topic"),  # "rate" alone is no domain term
    ("How many tonnes of hazardous waste did Xiamen landfill in 2024?", "no_indicator"),  # no figure in that unit
])
def test_refusals_say_why(fake_engine, question, reason):
    a = fake_engine.ask(question)
    assert a.kind == "not_found" and a.not_found.reason == reason and not a.facts


def test_question_kinds():
    from retrieval.facts.vocabulary import default_vocabulary
    from retrieval.search.query import QueryAnalyzer
    from retrieval.text.tokenize import Tokenizer, TokenizerConfig

    analyzer = QueryAnalyzer(Tokenizer(TokenizerConfig()))

    def intent(q):
        return read_intent(analyzer.analyze(q), default_vocabulary())

    assert intent("哪些城市国考断面水质优良比例达到100%").kind == "cities"
    assert intent("Compare good-air-day rates across the cities").kind == "table"
    assert intent("温州2023年PM2.5浓度").kind == "value"
    assert intent("温州如何推进危废治理").kind == "passage"
    assert intent("What did Shaoxing plan to do about noise?").asks_how
    condition = intent("which cities had PM2.5 of 35 μg/m3 or lower").condition
    assert (condition.comparator, condition.number, condition.unit) == ("<=", 35.0, "μg/m3")
    assert intent("嘉兴2019年罚了多少钱").unit == "money" and intent("温州信访立案率是多少").unit == "%"
    assert intent("嘉兴开展了几轮大排查").unit == "轮" and intent("How many rounds of checks did Xiamen run?").unit == "轮"
    assert intent("绍兴抽检了多少批次").unit == "批次" and intent("食品抽检批次合格率是多少").unit == "%"
    assert intent("厦门 2024 危废 规范化 考核 合格率").unit == "%"  # a terse query naming a rate last
    assert intent("温州已经连续多少个月保持空气优良").unit == "个月"
    assert intent("嘉兴多大比例的企业完成清洁生产审核").unit == "%" and intent("Xiamen share of clean buses").unit == "%"
    assert intent("厦门危废处置量比上年涨了多少").measure == "change"
    assert intent("嘉兴增加了多少家企业").measure == "level"  # counts what was added
    assert intent("嘉兴企业比上年增加了多少家").measure == "change"  # against the year before
    assert intent("赣州新增了多少个监测站点").unit == "个" and intent("达标率100%的有哪几个市").unit is None
    assert intent("What percentage of steps were completed in Xiamen?").kind == "value"
    assert intent("温州晚上的噪声达标率").times == {"night"}
    assert intent("嘉兴湿地修复面积有多大").unit == "area" and intent("各市整治的工业企业数量").unit == "count"
    assert intent("How many tonnes of coal did Jiaxing cut?").unit == "吨"
    assert intent("What new approaches did Xiamen take to noise?").kind == "passage"
    assert intent("厦门推出了什么和企业环境信用挂钩的贷款产品?").kind == "passage"  # asks what thing, names no measure
    assert intent("What carbon-emission standards mechanism did Wenzhou introduce?").kind == "passage"
    assert intent("嘉兴的空气优良率是什么").kind == "value"  # what a measured thing is asks its figure
    assert intent("温州环境信访量比前一年少了多少?").measure == "change"
    assert intent("What safe-use rate does each city report or target?").wants is None  # both kinds
    assert intent("嘉兴饮用水水源地水质达标率(含目标)").wants is None
    assert intent("How many low-carbon pilot townships does each city have or aim for?").wants is None
    assert intent("Compare the drinking-water source compliance rates reported or targeted by each city.").wants is None
    assert intent("各市低碳试点乡镇有多少个,或者计划创建多少个?").wants is None
    assert intent("温州去年环境信访总量降了多少?").measure == "change"
    assert intent("What city-wide good-air rate did Jiaxing set as its goal?").kind == "value"  # city-wide: no which-city
    assert intent("What is Ganzhou planning for clean water work in 2023?").kind == "passage"
    moved = intent("嘉兴公众满意度全省排名往前挪了几位?")
    assert (moved.unit, moved.measure) == ("位", "level")  # so many places moved, not a rank
    assert intent("嘉兴2023年空气质量在全省排名第几位").measure == "rank" and intent("嘉兴2023年PM2.5是什么").kind == "value"
    assert intent("消除市区黑臭水体").scope == "市区" and intent("县级及以上城市和市区PM2.5浓度").scope == "县级及以上城市"
    assert intent("各市PM2.5浓度目标和实际完成情况").wants is None and intent("各市PM2.5浓度目标").wants == "target"
    assert (intent("溫州連續第幾年被評為優秀單位?").measure, intent("温州连续几年获评优秀").unit) == ("level", "年")
    assert intent("What was Ganzhou's PM2.5 in county-level cities (not the central urban area)?").scope == "县级及以上城市"
    assert intent("温州罚款总额是多少").unit == "money"
    assert intent("How many people did Shaoxing train in 2023?").unit == "人"
    assert unit_fits(intent("审批时限压缩了多少个工作日").unit, "个工作日") and intent("环评审批要多长时间").unit == "duration"
    assert intent("绍兴 工业固废 产生强度").kind == "value"  # a measure named with a city asks its figure
    assert intent("How far from the coast did Xiamen extend the patrols?").unit == "公里"
    assert intent("How far did Xiamen's PM2.5 concentration fall?").unit is None  # how much, not how many km
    assert intent("How long is the sewage pipe network Jiaxing built?").unit == "公里"
    closed = intent("中央环保督察转交的信访件,哪些城市销号率超过99%?")  # the threshold tests the rate, not the cases
    assert closed.indicators[0].indicator_id == "closure_rate"
    assert intent("Which cities built new sewage treatment plants?").wants == "achieved"  # a plant is no plan
    assert intent("What fraction of villages in Ganzhou had sewage treatment?").unit == "%"
    assert intent("By what percent did Wenzhou's hazardous-waste output rise?").measure == "change"
    assert intent("赣州PM2.5平均浓度比上年提升了多少").measure == "change" and intent("优良率提高到了多少").unit == "%"
    assert intent("嘉兴的污泥焚烧能力是多少").unit == "capacity" and intent("What is Xiamen's daily sewage treatment capacity?").unit == "capacity"
    assert intent("温州如何加强环境应急能力建设").unit is None  # capacity building: no rate asked
    assert unit_fits("capacity", "万吨/年") and unit_fits("capacity", "吨/日") and not unit_fits("capacity", "μg/m3")


@pytest.mark.parametrize("question, comparator, number, unit", [
    ("Which cities handled more than 2,000 complaints?", ">=", 2000, "count"),
    ("Which cities built at least three demonstration zones?", ">=", 3, "count"),
    ("哪些城市淘汰老旧车辆1万辆以上", ">=", 10000, "count"),
    ("Which cities invested over 2 billion yuan?", ">=", 2e9, "元"),
    ("Which cities in 2023 collected more than 50 million yuan in fines?", ">=", 5e7, "元"),  # a year before it
    ("Which cities handled more than 300 cases in 2023?", ">=", 300, "count"),
    ("哪些城市削减排放不超过500吨", "<=", 500, "吨"),
    ("哪些城市2023年办理信访超过12000件", ">=", 12000, "count"),  # no year read inside a number
    ("哪些城市淘汰超过1万辆老旧车", ">=", 10000, "count"),
    ("哪些城市新增造林超过1000亩", ">=", 1000, "亩"),
    ("Which cities built over 30 km of greenway?", ">=", 30, "公里"),
    ("哪些城市污水收集率超过九成", ">=", 90, "%"),
])
def test_a_threshold_on_a_count_or_an_amount(question, comparator, number, unit):
    from retrieval.answers.intent import _condition

    c = _condition(question)
    assert (c.comparator, c.number, c.unit) == (comparator, number, unit)


def test_a_number_with_nothing_counted_is_no_threshold():
    from retrieval.answers.intent import _condition

    assert _condition("Which cities had PM2.5 below 30?") is None  # in what, unsaid
    assert _condition("哪些城市PM2.5低于30") is None


def test_a_count_threshold_compares_base_quantities():
    from retrieval.answers.intent import Condition, unit_fits

    assert Condition(">=", 10000, "count").met_by(1.2, None, "万辆") and not Condition(">=", 10000, "count").met_by(900, None, "辆")
    assert not Condition(">=", 5, "count").met_by(8, None, "吨")  # tonnes count nothing
    assert Condition(">=", 5e7, "元").met_by(7702, None, "万元") and not Condition(">=", 5e7, "元").met_by(4000, None, "万元")
    assert unit_fits("辆", "万辆") and unit_fits("万元", "亿元") and unit_fits("count", "万件") and not unit_fits("辆", "万吨")


def test_an_indicator_the_vocabulary_knows_answers_a_question_that_names_it_otherwise(fake_engine):
    # 创成率 in the report, 比例 in the question: the sentence's words vouch for the figure
    answer = fake_engine.ask("温州各县区创成省级生态文明建设示范区的比例是多少")
    assert answer.kind == "value" and answer.facts[0].value == "91.7%"


def test_the_bureau_is_no_subject_of_its_own_figures(fake_engine):
    answer = fake_engine.ask("How much money did the Xiamen ecology and environment bureau obtain from higher-level governments?")
    assert answer.kind == "value" and answer.facts[0].value == "16053万元"


@pytest.mark.parametrize("question, value", [
    # cases are counted, what they were fined is money: 查办环境违法案件1436件、罚款1.33亿元
    ("嘉兴2019年查办环境违法案件一共罚了多少钱?", "1.33亿元"),
    # a share asked of something counted: 全年累计477个建设项目实施告知承诺制审批,占比77.31%
    ("廈門2024年實行告知承諾制審批的建設項目佔比是多少?", "77.31%"),
    # 感方, 式监, 辆柴 are no words; 遥感监测柴油车约16万辆 holds the rest
    ("嘉興2019年用遙感方式監測了多少輛柴油車?", "16万辆"),
])
def test_a_figure_asked_of_what_a_sentence_states_beside_it_or_in_other_words(fake_engine, question, value):
    a = fake_engine.ask(question)
    assert a.kind == "value" and a.facts[0].value == value


def test_a_unit_the_named_indicator_is_stated_in_does_not_widen_the_search(fake_engine):
    # PM10 is in μg/m3: Ganzhou's PM2.5 figures are no answer, whatever the words shared
    assert fake_engine.ask("赣州市中心城区2022年PM10年均浓度是多少微克/立方米").kind == "not_found"


def test_a_word_of_a_synonym_group_is_matched_by_any_word_of_it(fake_engine):
    from retrieval.answers.typed import _core, _share

    core = _core(fake_engine.analyzer.analyze("绍兴危险废物的焚烧占比"))
    assert ("危废", "危险废物") in core
    assert _share(core, "危废焚烧占比") >= 0.5 and _share(core, "污泥焚烧") < 0.5


def test_a_common_word_is_not_half_of_what_a_which_city_question_asks(fake_engine):
    # 项目 is in hundreds of sentences, 挥发性有机物 in a few: Ganzhou's 163 key projects
    # name no VOC treatment
    a = fake_engine.ask("Which cities have actually finished VOC (volatile organic compound) treatment projects?")
    assert a.kind == "cities" and set(a.cities) == {"嘉兴", "厦门"}


def test_each_unit_weighs_by_how_few_sentences_in_scope_hold_it():
    from retrieval.answers.typed import _share, _specificity

    facts = [SimpleNamespace(text=t) for t in ("完成重点项目163个", "审批建设项目1624个", "完成挥发性有机物治理项目50个")]
    core = [("项目",), ("挥发性有机物",), ("产业集群",)]
    common, rare, unseen = _specificity(core, facts)
    assert common < rare and unseen == pytest.approx((common + rare) / 2)  # unseen: no telling, so average
    assert _share(core, "重点项目163个") == pytest.approx(1 / 3)  # each unit once, unweighted
    assert _share(core, "重点项目163个", (common, rare, unseen)) < 1 / 3


def test_a_sentence_is_read_under_its_heading_and_common_words_weigh_little(fake_engine):
    from retrieval.answers.typed import _relevance

    def fact(text, heading):
        return SimpleNamespace(indicator="fines", indicator_text="罚款", value="", text=text, heading_path=(heading,))

    total = fact("查办环境违法案件1436件、罚款1.33亿元。", "三是执法力度提升")
    occasion = fact("责令企业整改113家,罚款791.5万元。", "二是顺利完成省级生态环保督察")
    intent = SimpleNamespace(indicators=(), language="zh")
    core = [("省级",), ("督察",), ("罚款",)]
    fits = _relevance([total, occasion], intent, core, None)
    assert fits[id(occasion)].context > fits[id(total)].context  # the heading names the occasion asked
    weighed = _relevance([total, occasion], intent, [("罚款",), ("生态",)], None, weights=(1.0, 0.1))
    assert weighed[id(total)].context == pytest.approx(1.0 / 1.1)  # lacking the common 生态 costs little
    # the year's total and the inspection's fines, each found by a question that names it
    assert [f.value for f in fake_engine.ask("嘉兴2019年罚款多少").facts][:1] == ["1.33亿元"]
    assert [f.value for f in fake_engine.ask("嘉兴接受省级生态环保督察期间罚款多少?").facts][:1] == ["791.5万元"]


def test_every_recall_question_gets_an_answer_or_a_refusal(fake_engine):
    # the answer eval's sets are not the only questions people ask: the recall sets' too
    import json

    for path in sorted((ROOT / "eval").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            kind = fake_engine.ask(json.loads(line)["question"]).kind
            assert kind in ("value", "cities", "table", "passage", "not_found"), (path.name, line[:80])


def test_a_question_all_of_whose_units_weigh_nothing_is_still_answered(fake_engine):
    from retrieval.answers.typed import _share

    assert _share([("物多",), ("样性",)], "生物多样性保护", weights=(0.0, 0.0)) == 0.0
    assert fake_engine.ask("Compare the cities' work on biodiversity protection").kind != "not_found"


def test_a_pair_across_two_words_that_no_sentence_holds_weighs_nothing():
    from retrieval.answers.typed import _specificity

    facts = [SimpleNamespace(text=t) for t in ("未发生突发环境事件", "处置突发环境事件3起", "推进产业升级")]
    core = [("事件",), ("件零",), ("集群",)]  # 件零 spans 事件|零; 集群 is a word no sentence holds
    common, across, unseen = _specificity(core, facts, tokens=("突发", "事件", "零", "发生", "产业", "集群"))
    assert across == 0.0 and unseen == pytest.approx(common)


def core_of(question: str) -> list[tuple[str, ...]]:
    from retrieval.answers.typed import _core
    from retrieval.search.query import QueryAnalyzer
    from retrieval.text.tokenize import Tokenizer

    return _core(QueryAnalyzer(Tokenizer()).analyze(question))


def test_words_of_asking_say_nothing_of_what_is_asked():
    # 具体 (specifically), 打算, 针对 ask; 治气 is what the question is about
    assert core_of("温州2024年打算怎么治气?具体呢?") == [("治气",)]


def test_already_and_about_ask_nothing_of_their_own():
    # 已经, 取得 and 成果 say the kind asked (done), 提到, 相关 and 方面 say nothing: none is a unit of the question
    assert core_of("哪些城市已经在辐射方面取得了相关成果?") == [("辐射",)]
    assert core_of("哪些城市的报告提到已有水体稳定保持Ⅱ类水质?") == core_of("哪些城市有水体稳定保持Ⅱ类水质?")


def test_a_question_setting_plans_aside_asks_nothing_of_planning_but_an_occasion_is_a_term():
    from retrieval.search.query import QueryAnalyzer
    from retrieval.text.tokenize import Tokenizer

    analyze = QueryAnalyzer(Tokenizer()).analyze
    assert not any("规划" in g for g in analyze("Which cities built zero-waste cells, rather than just planning them?").glossary)
    assert any("规划" in g for g in analyze("Which cities finished their spatial planning?").glossary)
    assert any("疫情" in g for g in analyze("Which city handled COVID-era medical waste?").glossary)  # the occasion asked
    assert any("海漂垃圾" in g for g in analyze("How did Xiamen deal with rubbish floating in its sea area?").glossary)
    assert any("应急" in g for g in analyze("How did Xiamen improve its emergency response?").glossary)


def test_a_figure_qualified_as_the_question_does_not_ask_is_the_lesser_fit():
    from retrieval.answers.typed import _plain

    def fact(indicator_text):
        return SimpleNamespace(indicator="complaints_handled", indicator_text=indicator_text)

    names = ("投诉", "信访")  # the indicator's names in the vocabulary
    complaints = core_of("厦门投诉同比下降多少")
    assert _plain(fact("投诉总量"), names, complaints)  # 总量 measures, it does not qualify
    assert not _plain(fact("重复投诉"), names, complaints)
    assert _plain(fact("重复投诉"), names, core_of("厦门重复投诉同比下降多少"))
    english = core_of("By how much did environmental complaints fall in Xiamen?")  # English says it in glossary terms
    assert _plain(fact("投诉总量"), names, english) and not _plain(fact("重复投诉"), names, english)
    assert _plain(fact("重复投诉"), names, core_of("By how much did repeat complaints fall in Xiamen?"))


def test_words_either_side_of_or_are_alternatives():
    core = core_of("哪些城市已建成或創成低(零)碳試點?")
    assert ("建成", "创成") in core and ("成或",) not in core and ("建成",) not in core


def test_a_which_city_question_about_a_national_honour_needs_a_sentence_saying_national(fake_engine):
    from retrieval.answers.typed import _what_a_sentence_must_say

    (national,) = _what_a_sentence_must_say("哪些城市的执法队伍获得过全国性的执法比武表彰?")
    assert national.search("被评为全国生态环境执法比武先进单位") and not national.search("在全省执法大练兵中获得团体二等奖")
    a = fake_engine.ask("哪些城市的生态环境执法队伍获得过全国性的执法练兵或比武表彰?")
    assert "厦门" not in a.cities  # its contest was the province's


def test_which_cities_saw_a_fall_is_a_question_about_changes(fake_engine):
    intent = read_intent(fake_engine.analyzer.analyze(
        "In which cities did environmental complaints go down compared with the year before?"), fake_engine.vocabulary)
    assert (intent.kind, intent.measure, intent.direction) == ("cities", "change", "down")


@pytest.fixture
def client(fake_engine):
    with TestClient(create_app(fake_engine, ServiceConfig())) as c:
        yield c


def test_ask_api_returns_typed_facts_with_exact_citations(client, project):
    body = client.post("/v1/ask", json={"question": README_QUESTION}).json()
    assert body["kind"] == "cities" and body["found"] and body["reason"] is None
    assert {f["city"] for f in body["facts"] if f["kind"] == "achieved"} == {"温州", "赣州"}
    for f in body["facts"]:
        raw = (project / f["source"]["path"]).read_text(encoding="utf-8")
        assert raw[f["source"]["start"] : f["source"]["end"]] == f["text"]
        assert f["text"][f["value_span"][0] : f["value_span"][1]] == f["value"]
    assert "Wenzhou" in body["answer"] and "[1]" in body["answer"]  # answered in the question's language


def test_ask_api_table_and_refusal(client):
    table = client.get("/v1/ask", params={"q": "各市PM2.5浓度对比"}).json()
    assert table["kind"] == "table"
    empty = [f for f in table["facts"] if f["value"] is None]
    assert [f["city"] for f in empty] == ["厦门"] and empty[0]["source"] is None
    refused = client.post("/v1/ask", json={"question": "嘉兴2023年空气优良率是多少"}).json()
    assert refused["kind"] == "not_found" and refused["reason_code"] == "other_years"
    assert "2019–2020" in refused["reason"] and refused["facts"] == []


def test_facts_api_filters(client):
    body = client.get("/v1/facts", params={"indicator": "pm25_concentration", "city": "Ganzhou", "kind": "target"}).json()
    assert body["total"] == len(body["facts"]) >= 1
    assert {(f["city"], f["kind"], f["indicator"]) for f in body["facts"]} == {("赣州", "target", "pm25_concentration")}
    by_words = client.get("/v1/facts", params={"indicator": "优良率", "year": 2024}).json()
    assert by_words["total"] and all(f["year"] == 2024 for f in by_words["facts"])
    assert client.get("/v1/facts", params={"city": "杭州"}).status_code == 422


def test_cli_prints_facts_and_tables(project):
    facts = reportqa(project, "facts", "--indicator", "pm25_concentration", "--city", "温州")
    assert facts.returncode == 0, facts.stderr
    assert "温州 | 2023 | achieved | pm25_concentration" in facts.stdout and "25μg/m3" in facts.stdout
    table = reportqa(project, "ask", "各市PM2.5浓度对比")
    assert table.returncode == 0, table.stderr
    assert "城市 | 年份 | 类型 | 数值" in table.stdout and "厦门 | — | — | 报告中没有该数值" in table.stdout
    refused = reportqa(project, "ask", "杭州2023年PM2.5浓度是多少")
    assert refused.returncode == 3 and "杭州" in refused.stdout


@pytest.mark.parametrize("question", ["哪些城市？", "哪个城市2023年", "which cities are like Jiaxing", "？？", "2023"])
def test_questions_with_nothing_to_go_on_get_an_answer_not_an_error(fake_engine, question):
    assert fake_engine.ask(question).kind in ("not_found", "passage", "cities", "table", "value")


def test_request_filters_bound_the_answer(fake_engine):
    from retrieval.backends.base import Filters

    other = fake_engine.ask("赣州PM2.5浓度是多少", filters=Filters(cities=("温州",)))
    assert other.kind == "not_found" and other.not_found.reason == "no_city"
    table = fake_engine.ask("各市PM2.5浓度对比", filters=Filters(years=(2023,)))
    assert table.kind == "table" and {r.fact.year for r in table.rows if r.fact} == {2023}
    one = fake_engine.ask("各市PM2.5浓度对比", filters=Filters(cities=("温州",)))
    assert {r.city for r in one.rows} == {"温州"}


def test_a_condition_in_points_is_about_changes_not_levels(fake_engine):
    a = fake_engine.ask("哪些城市空气优良率提高5个百分点以上")
    assert all(f.measure == "change" for f in a.facts)


def test_a_city_the_collection_lacks_is_named_beside_the_answer(client):
    body = client.get("/v1/ask", params={"q": "北京和温州PM2.5浓度对比"}).json()
    assert body["kind"] == "table" and {f["city"] for f in body["facts"]} == {"温州"}
    assert "北京" in body["answer"]


def test_which_city_did_not_suffer_something_needs_a_sentence_saying_so(fake_engine):
    # 厦门's report speaks of 突发环境事件 only as plans for handling them
    a = fake_engine.ask("哪些城市连续多年没有发生突发环境事件")
    assert a.kind == "cities" and "厦门" not in a.cities
    assert a.cities and all(re.search("未|没有|无|零", e.text) for e in a.evidence)


def test_absence_is_an_event_that_did_not_happen():
    from retrieval.answers.typed import _ASKS_ABSENCE, _SAYS_ABSENCE

    assert _ASKS_ABSENCE.search("哪些城市未发生突发环境事件") and _ASKS_ABSENCE.search("cities without an incident")
    for question in ("哪些城市用无人机巡查", "Which cities built zero-waste cells?", "哪些城市建成无废城市"):
        assert not _ASKS_ABSENCE.search(question), question
    assert _SAYS_ABSENCE.search("较大以上突发环境事件实现“零发生”")
    assert not _SAYS_ABSENCE.search("对环境违法行为零容忍,谋划未来") and not _SAYS_ABSENCE.search("无废城市建设")


def test_a_question_word_counts_once_not_once_per_part():
    from retrieval.answers.extractive import word_weights

    known = {"挥发性有机物": 3.0, "挥发": 3.0, "有机物": 3.0, "涂装": 9.0, "贷款": 4.0}
    weights = word_weights(["涂装", "挥发性有机物", "挥发", "有机物", "银行贷款", "贷款"],
                           lambda words: {w: known[w] for w in words if w in known})
    assert weights == {"涂装": 9.0, "挥发性有机物": 3.0, "贷款": 4.0}  # 银行贷款 is no word of the reports


def test_a_passage_s_own_heading_is_no_answer_sentence():
    from retrieval.answers.extractive import _candidates
    from retrieval.models import Chunk, Result

    text = "(四)狠抓督察反馈问题整改。创新完善问题整改长效机制,形成齐抓共管攻坚合力。"
    chunk = Chunk("c", "d", "seeds/x.txt", "t", "温州", 2023, (2023,), ("(四)狠抓督察反馈问题整改",), 0, len(text), text)
    assert [c[3] for c in _candidates([Result(1, 1.0, chunk)])] == ["创新完善问题整改长效机制,形成齐抓共管攻坚合力。"]


def test_which_cities_did_something_reads_more_than_each_city_s_first_sentence(fake_engine):
    question = "哪几个城市已经在入河、入海排污口整治方面取得了成效?"
    sentences = fake_engine.sentence_answer(question)
    quoted = {e.span for e in sentences.evidence}
    assert sentences.runners_up and not quoted & {e.span for e in sentences.runners_up}
    assert {e.chunk.city for e in sentences.runners_up} <= {e.chunk.city for e in sentences.evidence}


@pytest.mark.parametrize("question", ["绍兴涂装行业VOCs治理方式", "厦门海漂垃圾的治理模式?"])
def test_a_question_ending_in_a_way_of_doing_asks_for_a_description(fake_engine, question):
    intent = read_intent(fake_engine.analyzer.analyze(question), fake_engine.vocabulary)
    assert intent.asks_how and intent.kind == "passage"


def test_asking_how_of_a_city_in_none_of_the_domain_s_words_is_off_topic(fake_engine):
    zongzi = fake_engine.ask("How do I make Jiaxing-style zongzi at home?")
    assert zongzi.kind == "not_found" and zongzi.not_found.reason == "off_topic"
    assert fake_engine.ask("What new approaches did Wenzhou try for corporate compliance supervision?").kind == "passage"


def test_a_which_city_question_about_first_place_needs_a_sentence_saying_first():
    from retrieval.answers.typed import _what_a_sentence_must_say

    (first,) = _what_a_sentence_must_say("Which cities say public satisfaction ranks first in their province?")
    assert first.search("公众对生态环境质量满意度保持全省第一") and not first.search("公众满意度全省排名较2018年均前移了2位")
    assert not _what_a_sentence_must_say("哪些城市建成了第一批无废细胞?")  # 第一批: the first batch, no place


def test_which_cities_rank_in_the_top_places_tests_their_ranks(fake_engine):
    intent = read_intent(fake_engine.analyzer.analyze("行政处罚案件数排进全省前两名的是哪几个市"), fake_engine.vocabulary)
    assert (intent.measure, intent.condition.comparator, intent.condition.number) == ("rank", "<=", 2.0)
    a = fake_engine.ask("环保行政处罚案件数排进全省前两名的是哪几个市")
    assert set(a.cities) == {"温州", "嘉兴"}  # 797件, 全省第一; 1436件、罚款1.33亿元, 均列全省第2位
    assert all(f.measure == "rank" and f.number <= 2 for f in a.facts)


def test_low_or_zero_carbon_written_as_one_term_is_either():
    from retrieval.answers.typed import _share

    core = core_of("哪些城市创成了低碳试点乡镇?")
    assert _share(core, "全市创成13个省级低(零)碳试点乡镇(街道)") == 1.0
