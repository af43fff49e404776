"""The offline subtype classifier: training, calibration, versioned files, zero-shot."""

import json
from pathlib import Path

import pytest

from agents.classifier import (
    SubtypeClassifier,
    TrainingError,
    ensure_classifier,
    load_builtin,
    zero_shot,
)
from knowledge import Knowledge


@pytest.fixture(scope="module")
def trained(
    knowledge: Knowledge, tmp_path_factory: pytest.TempPathFactory
) -> tuple[SubtypeClassifier, Path]:
    models = tmp_path_factory.mktemp("models")
    return ensure_classifier(knowledge, models), models


def test_first_use_trains_on_the_shipped_set_and_saves_a_version(
    trained: tuple, knowledge: Knowledge
) -> None:
    clf, models = trained
    texts, labels = load_builtin()
    assert clf.meta["examples"] == len(texts) and clf.meta["subtypes"] == len(set(labels)) == len(
        knowledge.subtypes
    )
    assert (models / f"classifier-{clf.version}.joblib").exists()
    assert (
        json.loads((models / f"classifier-{clf.version}.json").read_text(encoding="utf-8"))[
            "version"
        ]
        == clf.version
    )
    again = SubtypeClassifier.load(models, knowledge)
    assert again is not None and again.version == clf.version


def test_predictions_rank_three_alternatives(trained: tuple) -> None:
    clf, _ = trained
    p = clf.predict("小区门口垃圾桶已经三天没人清运，臭气熏天")
    assert p.subtype == "CA04" and p.engine == "classifier"
    probs = [x[1] for x in p.alternatives]
    assert len(probs) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
    assert p.confidence == probs[0]


#: phrasings written for this test, different from the taxonomy's and the generator's
FRESH = [
    ("我们这栋楼后面的垃圾房好几天没人拉，苍蝇到处飞", "CA04"),
    ("有个烧腊店天天把油烟往我们卧室窗户这边排", "EN04"),
    ("凌晨一点工地还在浇筑，搅拌车轰隆隆的", "EN02"),
    ("单元门口的路灯一直不亮，老人晚上出门摔了一跤", "CA09"),
    ("包工头拖了我们三个月的工钱，电话也不接", "LB01"),
    ("超市卖的面包早就过了保质期还在架子上", "MK01"),
    ("车子天天停在我们小区消防通道上", "ES02"),
    ("隔壁装修把承重墙打掉了，我家墙上出现裂缝", "CO01"),
    ("物业费涨了一倍，业主大会根本没开", "CO02"),
    ("楼上厕所渗水到我家天花板，找他们不理", "CV03"),
    ("自来水龙头放出来的水是浑的，有股怪味", "WU01"),
    ("下水道堵住了，污水漫到街面上", "WU02"),
    ("河沟里漂着一层油，还有死鱼", "EN05"),
    ("电梯门开着就往上走，太吓人了", "CO04"),
    ("出租车师傅说去机场不打表要一百五", "TR05"),
    ("学校要求每个学生交三百块资料费", "ED02"),
    ("网吧里好多初中生在通宵打游戏", "CT02"),
    ("山上有人放火烧荒，烟很大", "ES10"),
    ("充值了两千的理发卡，店突然关门了", "MK07"),
    ("交了社保但是查不到缴费记录", "LB03"),
]


def test_fresh_phrasings(trained: tuple) -> None:
    """A small hand-written check; the real figures come from the golden set of the eval harness."""
    clf, _ = trained
    correct = [clf.predict(text).subtype == gold for text, gold in FRESH]
    top3 = [gold in [c for c, _ in clf.predict(text).alternatives] for text, gold in FRESH]
    assert sum(correct) / len(FRESH) >= 0.6
    assert sum(top3) / len(FRESH) >= 0.8


def test_training_refuses_unknown_labels_and_tiny_sets(knowledge: Knowledge) -> None:
    with pytest.raises(TrainingError, match="未知的事件小类"):
        SubtypeClassifier.train(
            knowledge, ["a", "b", "c", "d"], ["CA01", "CA01", "ZZ99", "ZZ99"], source="t"
        )
    with pytest.raises(TrainingError, match="至少需要 2 条"):
        SubtypeClassifier.train(knowledge, ["a", "b", "c"], ["CA01", "CA01", "CA02"], source="t")


def test_zero_shot_answers_without_training_data(knowledge: Knowledge) -> None:
    p = zero_shot(knowledge, "楼道里有很浓的天然气味道，燃气报警器一直在响")
    assert p.engine == "zero-shot" and p.subtype == "WU03"
    assert p.subtype in knowledge.subtypes and len(p.alternatives) == 3


def test_the_temperature_scaled_svm_handles_two_classes() -> None:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from agents.classifier import TemperatureScaledSVM

    texts = ["路灯坏了", "路灯不亮", "路灯闪烁", "噪音扰民", "噪音很大", "夜里噪音"] * 3
    labels = ["light", "light", "light", "noise", "noise", "noise"] * 3
    X = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit_transform(texts)
    model = TemperatureScaledSVM(folds=3).fit(X, labels)
    proba = model.predict_proba(X)
    assert proba.shape == (len(texts), 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert list(model.predict(X)) == labels


def test_the_head_is_the_first_sentence_capped() -> None:
    from agents.classifier import HEAD_CHARS, head

    assert head("小区门口占道经营。每天晚上摆摊到十一点，垃圾满地") == "小区门口占道经营"
    assert head("噪音扰民！") == "噪音扰民"
    assert head("路灯不亮") == "路灯不亮"
    assert len(head("长" * 500)) == HEAD_CHARS


def test_the_head_is_counted_apart_from_the_body() -> None:
    """The body block is the plain TF-IDF of the whole text; the head block holds only the
    first sentence's n-grams, weighted, so 噪音 in the subject line and 噪音 in the story are
    two different features."""
    import numpy as np

    from agents.classifier import TextFeatures

    texts = ["噪音扰民。楼下装修", "楼下装修。噪音扰民", "路灯不亮。晚上很黑"]
    model = TextFeatures(head_weight=0.5).fit(texts)
    features = model.transform(texts).toarray()
    width = len(model.body_.vocabulary_)
    heads_width = len(model.head_.vocabulary_)
    body, heads = features[:, :width], features[:, width : width + heads_width]
    assert np.allclose(body, model._vectorizer().fit_transform(texts).toarray())
    noise = model.head_.vocabulary_["噪音"]
    assert heads[0, noise] > 0 and heads[1, noise] == 0  # 噪音 heads only the first text
    assert body[0, model.body_.vocabulary_["噪音"]] > 0
    assert body[1, model.body_.vocabulary_["噪音"]] > 0
    assert np.isclose(np.linalg.norm(heads[0]), 0.5)  # the head block is weighted


def test_the_topics_put_texts_on_the_same_subject_together() -> None:
    """The topic block: fewer topics than texts, each row weighted to ``topic_weight``; two
    texts on one subject lie closer in it than two texts on different subjects."""
    import numpy as np

    from agents.classifier import TextFeatures

    texts = [
        "楼下烧烤油烟太大",
        "烧烤店油烟熏人",
        "夜市烧烤油烟扰民",
        "路灯坏了不亮",
        "小区路灯不亮很黑",
        "路灯闪烁坏了",
    ] * 2
    model = TextFeatures(topics=200, topic_weight=0.5).fit(texts)
    assert model.svd_ is not None and 2 <= model.svd_.n_components < len(texts)
    features = model.transform(texts).toarray()
    topics = features[:, -model.svd_.n_components :]
    assert np.allclose(np.linalg.norm(topics, axis=1), 0.5)
    same = topics[0] @ topics[1]
    other = topics[0] @ topics[3]
    assert same > other


def test_unlabelled_texts_shape_the_topics_and_are_not_kept() -> None:
    """Texts without labels join the topic model only: 烤串 never occurs in the training
    texts, but the unlabelled ones put it beside 油烟, so a report of a 烤串摊 lands on the
    fumes topic. The unlabelled texts themselves are not stored in the model."""
    import pickle

    from agents.classifier import TextFeatures, data_version

    train = ["楼下烧烤油烟太大", "烧烤店油烟熏人", "夜市烧烤油烟扰民"]
    train += ["路灯坏了不亮", "小区路灯不亮很黑", "路灯闪烁坏了"]
    unlabelled = ["烤串摊油烟呛人", "街边烤串油烟大", "烤串摊子油烟熏到楼上", "路口路灯不亮"]
    plain = TextFeatures(topics=3).fit(train)
    model = TextFeatures(topics=3).fit(train, unlabelled=unlabelled)
    assert "串" not in plain.topic_terms_.vocabulary_
    assert "串" in model.topic_terms_.vocabulary_
    assert "串" not in model.body_.vocabulary_  # the n-gram blocks are the training texts'
    assert model.svd_ is not None
    rows = model.transform(["烤串摊", train[0], train[3]]).toarray()
    topics = rows[:, -model.svd_.n_components :]
    assert topics[0] @ topics[1] > topics[0] @ topics[2]
    dumped = pickle.dumps(model)
    assert all(t.encode() not in dumped for t in unlabelled)
    labels = ["a"] * 3 + ["b"] * 3
    assert data_version(train, labels) == data_version(train, labels, ())
    assert data_version(train, labels) != data_version(train, labels, unlabelled)


def test_a_tiny_training_file_gets_no_topic_block() -> None:
    from agents.classifier import TextFeatures

    model = TextFeatures().fit(["路灯", "噪音"])
    assert model.svd_ is None
    assert model.transform(["路灯"]).shape[1] == len(model.body_.vocabulary_) + len(
        model.head_.vocabulary_
    )


def test_a_saved_model_that_cannot_be_read_is_trained_again(
    knowledge: Knowledge, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After an upgrade the saved model may name a class that no longer exists, or the file
    may be cut short: the classifier is trained again instead of failing every draft."""
    (tmp_path / "classifier-current.txt").write_text("0ld", encoding="utf-8")
    (tmp_path / "classifier-0ld.json").write_text('{"version": "0ld"}', encoding="utf-8")
    (tmp_path / "classifier-0ld.joblib").write_bytes(b"\x80\x04not a pickle")
    with caplog.at_level("WARNING", logger="agents.classifier"):
        clf = ensure_classifier(knowledge, tmp_path)
    assert clf.version != "0ld" and clf.meta["examples"] > 0
    assert "cannot be read" in caplog.text
    assert (tmp_path / "classifier-current.txt").read_text(encoding="utf-8") == clf.version
