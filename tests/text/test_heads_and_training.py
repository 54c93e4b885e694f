"""The pieces under the text runners: batching, the training loop, task heads, inputs."""

from __future__ import annotations

import numpy as np
import pytest

from polyglue.cards.registry import Registry
from polyglue.langkits.batching import collate, grouped_batches, random_batches, real_token_fraction
from polyglue.langkits.inputs import BLANK, ChoiceItem, QAItem
from polyglue.langkits.kits import CatalanKit, ChineseKit, GreekBertKit
from polyglue.langkits.tasks.choice import ChoiceExamples, ChoiceHead
from polyglue.langkits.tasks.qa import QAExamples, QAHead
from polyglue.langkits.tasks.tokens import TokenExamples, TokenHead, word_chunks

REGISTRY = Registry.discover()


@pytest.fixture(scope="module")
def tokenizer(text_bert):
    from polyglue.torch_compat import prepare

    prepare()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(text_bert)


# --------------------------------------------------------------------------- batching


def test_grouped_batches_cover_every_index_once_and_pad_less_than_random_order():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 200, 2000).tolist()
    grouped = grouped_batches(lengths, 32, np.random.default_rng(1))
    plain = random_batches(len(lengths), 32, np.random.default_rng(1))
    assert sorted(i for b in grouped for i in b) == list(range(2000))
    assert max(len(b) for b in grouped) == 32
    assert real_token_fraction(grouped, lengths) > 0.9 > real_token_fraction(plain, lengths)


def test_collate_pads_choices_and_masks_the_missing_ones():
    features = [
        {"input_ids": [[1, 5, 2], [1, 6, 7, 2]], "labels": 1},
        {"input_ids": [[1, 8, 2], [1, 9, 2], [1, 4, 2]], "labels": 2},
    ]
    batch = collate(features, pad_id=0)
    assert tuple(batch["input_ids"].shape) == (2, 3, 4)
    assert batch["choice_mask"].tolist() == [[True, True, False], [True, True, True]]
    assert batch["attention_mask"][0, 1].tolist() == [1, 1, 1, 1]
    assert batch["labels"].tolist() == [1, 2]


def test_word_chunks_respect_the_budget_and_keep_order():
    assert word_chunks([2, 3, 1, 4], 5) == [(0, 2), (2, 4)]
    assert word_chunks([7, 1], 5) == [(0, 1), (1, 2)]  # an oversized word gets a chunk of its own


# --------------------------------------------------------------------------- training loop


def test_train_keeps_the_weights_of_the_best_validation_epoch():
    import torch

    from polyglue.langkits.training import TrainConfig, train

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1, 1))
    features = [{"input_ids": [1, 2, 3 + i], "labels": float(i)} for i in range(8)]

    def forward(m, batch):
        x = batch["input_ids"].float().mean(1, keepdim=True)
        return torch.nn.functional.mse_loss(m(x).squeeze(1), batch["labels"])

    scores, snapshots = iter([0.2, 0.9, 0.5]), []

    def select(m):
        snapshots.append({n: p.detach().clone() for n, p in m.named_parameters()})
        return next(scores)

    config = TrainConfig(learning_rate=0.05, epochs=3, batch_size=4)
    result, state = train(model, features, forward, config, select, pad_id=0)
    assert result.best_epoch == 2 and result.best_score == 0.9 and result.steps == 6
    assert [h["validation"] for h in result.history] == [0.2, 0.9, 0.5]
    for name, value in state.items():
        assert torch.equal(value, snapshots[1][name])
        assert not torch.equal(value, snapshots[2][name])


# --------------------------------------------------------------------------- heads


def test_qa_windows_locate_the_answer_and_decoding_recovers_it(tokenizer):
    card = REGISTRY.card("viquiquad").card
    filler = " ".join(["El riu passa per la plana i la ciutat."] * 12)
    context = f"{filler} Ahir, Marta va comprar el llibre a Girona. {filler}"
    start = context.index("Marta")
    item = QAItem("q1", "Qui va comprar el llibre a Girona?", context, ["Marta"], [start])
    head = QAHead(card, CatalanKit())
    ex = QAExamples([item])
    features = head.encode(ex, tokenizer, max_length=48)
    assert len(features) > 3  # doc-stride windows
    hits = [f for f in features if f["start_positions"] != 0]
    assert hits, "some window must contain the answer"
    for f in hits:
        s, e = f["offsets"][f["start_positions"]], f["offsets"][f["end_positions"]]
        assert context[s[0] : e[1]] == "Marta"
    outputs = []
    for f in features:
        n = len(f["input_ids"])
        starts, ends = np.zeros(n), np.zeros(n)
        if f["start_positions"]:
            starts[f["start_positions"]], ends[f["end_positions"]] = 10.0, 10.0
        outputs.append((starts, ends))
    assert head.decode(ex, features, outputs) == ["Marta"]


def test_token_head_splits_long_sentences_and_round_trips_first_subtoken_labels(tokenizer):
    card = REGISTRY.card("wikiann-el").card
    kit = GreekBertKit()
    words = [kit.normalize(w) for w in (["Ο", "Γιώργος", "επισκέφθηκε", "την", "Πάτρα", "χθες"] * 6) + ["\u0301"]]
    tags = np.array(([0, 1, 0, 0, 5, 0] * 6) + [0])
    head = TokenHead(card, kit)
    ex = TokenExamples(["s0"], [words], [tags])
    head.prepare(ex)
    features = head.encode(ex, tokenizer, max_length=16)
    assert len(features) > 2
    assert all(len(f["input_ids"]) <= 16 for f in features)
    outputs = [np.array([lab if lab >= 0 else 6 for lab in f["labels"]]) for f in features]
    [pred] = head.decode(ex, features, outputs)
    assert words[-1] == ""  # a lone combining accent normalises to nothing: no sub-token ...
    assert pred == [card.labels[t] for t in tags]  # ... and gets the most frequent training tag, O


def test_chid_rows_become_one_question_per_blank(text_data):
    from polyglue.data.materialize import DataResolver
    from polyglue.langkits.inputs import choice_items

    entry = REGISTRY.card("chid")
    split = DataResolver(entry.card, entry.path, suite="clue", data_dir=text_data).split("validation")
    items = choice_items(entry.card, split, ChineseKit(), window_chars=20)
    rows = split.table.to_pylist()
    assert len(items) == sum(len(r["answers"]["candidate_id"]) for r in rows)
    first = rows[0]
    mine = [it for it in items if it.id.startswith("0:")]
    assert [it.choices[it.answer] for it in mine] == first["answers"]["text"]
    assert all(it.context.count(BLANK) == 1 and "#idiom" not in it.context and len(it.context) <= 20 for it in items)


def test_choice_head_predicts_the_highest_real_choice(tokenizer):
    card = REGISTRY.card("c3").card
    head = ChoiceHead(card, ChineseKit())
    ex = ChoiceExamples([ChoiceItem("a", "男：王芳买了书。", "谁买了书？", ["王芳", "李明"], 0), ChoiceItem("b", "女：好。", "谁？", ["甲", "乙", "丙"], 2)])
    features = head.encode(ex, tokenizer, max_length=32)
    assert [len(f["input_ids"]) for f in features] == [2, 3]
    assert head.decode(ex, features, [np.array([0.1, 0.7, -1e4]), np.array([0.0, 0.2, 0.9])]) == ["李明", "丙"]
    assert head.golds(ex) == ["王芳", "丙"]


# --------------------------------------------------------------------------- weight-free baselines


def test_sliding_window_qa_picks_the_span_next_to_the_question_words():
    from polyglue.langkits.baselines import SlidingWindowQA

    ca = ["Ahir, Marta va comprar el llibre a Girona.", "La Laia va llegir la carta a Vic.", "El Jordi va pintar la casa a Reus."]
    context = "Ahir, Marta va comprar el llibre a Girona. Avui, Pere va vendre la barca a Vic."
    model = SlidingWindowQA(max_span=2, window=3).fit(ca + [context], CatalanKit())
    assert model.stop_ >= {"va", "a", "la"}  # frequent units: never an answer boundary
    assert model.predict("Qui va vendre la barca?", context, CatalanKit()) == "Pere"
    zh = ["昨天王芳在杭州画了画。", "李明在成都买了书。", "张伟在西安卖了车。", "陈静在南京读了信。"]
    model = SlidingWindowQA(max_span=2, window=4).fit(zh, ChineseKit())
    assert model.predict("谁在成都买了书？", "昨天王芳在杭州画了画。今天李明在成都买了书。", ChineseKit()) == "李明"


def test_ngram_tagger_learns_a_word_to_tag_mapping():
    from polyglue.langkits.baselines import NgramTagger

    sentences = [["el", "gat", "menja"], ["la", "gata", "dorm"], ["el", "gos", "corre"]] * 10
    tags = [np.array([0, 1, 2])] * 30
    tagger = NgramTagger(alpha=1e-5, seed=0).fit(sentences, tags)
    assert [p.tolist() for p in tagger.predict([["la", "gos", "menja"]])] == [[0, 1, 2]]


def test_sliding_window_choice_scores_prefer_the_choice_found_in_the_passage():
    from polyglue.langkits.baselines import sliding_window_scores

    scores = sliding_window_scores("男：足球比赛改到后天下午。", "比赛什么时候？", ["后天下午", "明天上午"], ChineseKit())
    assert scores[0] > scores[1]
