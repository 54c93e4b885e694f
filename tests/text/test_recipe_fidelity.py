"""Evidence that the text runners follow the suites' own code where a card says so.

CHID's joint assignment against brute force, CMRC2018's windows against Google's doc-span
rule (its documented example included), the final-model loop against a Hugging Face
`Trainer` set up as `run_glue.py`, selection modes, span markers, recipe fields in the unit
key, and comparability reasons. (CMRC2018 scoring on adversarial mixed strings is in
`test_metrics_reference.py`.)
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

from polyglue.cards.registry import Registry
from polyglue.errors import DataError
from polyglue.langkits.inputs import ChoiceItem, QAItem, mark_spans
from polyglue.langkits.kits import CatalanKit, ChineseKit
from polyglue.langkits.tasks.choice import ChoiceExamples, ChoiceHead, around, joint_assignment
from polyglue.langkits.tasks.qa import QAExamples, QAHead, doc_spans, max_context

REGISTRY = Registry.discover()


def with_protocol(card, **fields):
    """The card with some protocol fields changed (cards are frozen models)."""
    return card.model_copy(update={"protocol": card.protocol.model_copy(update=fields)})


@pytest.fixture(scope="module")
def tokenizer(text_bert):
    from polyglue.torch_compat import prepare

    prepare()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(text_bert)


# --------------------------------------------------------------------------- CHID


def brute_force_assignment(matrix: np.ndarray) -> list[int]:
    """Every injective blank -> candidate map; the one whose values, sorted high to low, are
    lexicographically largest (what taking the highest remaining logit first selects)."""
    n_blanks, n_choices = matrix.shape
    best, best_key = None, None
    for perm in itertools.permutations(range(n_choices), n_blanks):
        key = sorted((matrix[b, c] for b, c in enumerate(perm)), reverse=True)
        if best_key is None or key > best_key:
            best, best_key = list(perm), key
    return best


@pytest.mark.parametrize("seed", range(5))
def test_chid_joint_assignment_equals_brute_force_on_random_logits(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        blanks, choices = int(rng.integers(1, 5)), int(rng.integers(4, 8))
        matrix = rng.normal(size=(blanks, choices))
        got = joint_assignment(matrix)
        assert got == brute_force_assignment(matrix)
        assert len(set(got)) == blanks  # every candidate at most once per row


def test_chid_joint_assignment_is_the_official_greedy_rule_not_the_largest_sum():
    matrix = np.array([[10.0, 9.0], [9.0, 0.0]])
    assert joint_assignment(matrix) == [0, 1]  # 10 first, then what is left; the best sum (9 + 9) would be [1, 0]
    assert [int(np.argmax(r)) for r in matrix] == [0, 0]  # independent argmax reuses candidate 0


def test_joint_decoding_assigns_within_each_row_only():
    card = with_protocol(REGISTRY.card("chid").card, choice_decoding="joint")
    choices = ["甲", "乙", "丙"]
    items = [ChoiceItem(f"r{g}:{k}", "", "", choices, -1, group=f"r{g}") for g in (1, 2) for k in range(2)]
    logits = [np.array(v) for v in ([5.0, 1.0, 0.0], [4.0, 3.0, 0.0], [5.0, 1.0, 0.0], [4.0, 3.0, 0.0])]
    ex = ChoiceExamples(items)
    joint = ChoiceHead(card, ChineseKit()).decode(ex, None, logits)
    independent = ChoiceHead(REGISTRY.card("c3").card, ChineseKit()).decode(ex, None, logits)
    assert joint == ["甲", "乙", "甲", "乙"]
    assert independent == ["甲", "甲", "甲", "甲"]


@pytest.mark.parametrize(
    ("n", "pos", "width", "expected"),
    [
        (20, 10, 8, (4, 4)),  # room on both sides: half each
        (20, 2, 8, (2, 6)),  # near the start: the rest goes right
        (20, 18, 8, (7, 1)),  # near the end: the rest goes left
        (8, 6, 10, (1, 1)),  # a passage shorter than the window: the official negative slice start
    ],
)
def test_chid_window_around_the_blank_follows_the_official_slices(n, pos, width, expected):
    assert around(n, pos, width) == expected
    tokens = list(range(n))
    left, right = expected
    assert len(tokens[pos - left : pos]) == left and len(tokens[pos + 1 : pos + 1 + right]) == right


def test_chid_official_template_puts_the_candidate_first_and_masks_other_blanks(tokenizer):
    card = with_protocol(REGISTRY.card("chid").card, input_template="chid-official")
    item = ChoiceItem("r:#idiom1#", "", "", ["一心一意", "三心二意"], 1, group="r", segments=("他说", "然后", "走了"), blank=0)
    features = ChoiceHead(card, ChineseKit()).encode(ChoiceExamples([item]), tokenizer, max_length=64)
    ids = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    blank = tokenizer.get_vocab().get("[unused1]", tokenizer.mask_token_id)
    mask = tokenizer.mask_token_id
    # The window keeps as many tokens per side as the passage had with each other blank counted once
    # (2 left, 5 right); expanding that blank to four [MASK] then pushes the passage's end out, as there.
    right = [*ids("然后"), mask, mask, mask, mask, *ids("走了")][: len(ids("然后")) + 1 + len(ids("走了"))]
    for choice, row in zip(item.choices, features[0]["input_ids"]):
        expected = [tokenizer.cls_token_id, *ids(choice), tokenizer.sep_token_id, *ids("他说"), blank, *right, tokenizer.sep_token_id]
        assert row == expected
    assert all(t == 0 for r in features[0]["token_type_ids"] for t in r)
    assert features[0]["labels"] == 1


# --------------------------------------------------------------------------- QA windows


def test_doc_spans_reproduce_the_example_in_googles_run_squad_comment():
    # "the man went to the store and bought a gallon of milk": spans of 5 tokens every 3.
    spans = doc_spans(12, 5, 3)
    assert spans == [(0, 5), (3, 5), (6, 5), (9, 3)]
    bought = 7  # B has 4 left / 0 right, C 1 left / 3 right: C is its max-context span
    assert [max_context(spans, k, bought) for k in range(4)] == [False, False, True, False]


@pytest.mark.parametrize("seed", range(3))
def test_doc_spans_step_by_stride_cover_every_token_and_give_each_one_max_context_window(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        n, room = int(rng.integers(1, 160)), int(rng.integers(4, 48))
        stride = int(rng.integers(max(1, room // 4), room + 1))
        spans = doc_spans(n, room, stride)
        starts = [s for s, _ in spans]
        assert starts == [k * stride for k in range(len(spans))]  # a step, not an overlap
        assert all(length == min(room, n - s) for s, length in spans)
        assert spans[-1][0] + spans[-1][1] == n and (len(spans) == 1 or spans[-2][0] + spans[-2][1] < n)
        for pos in range(n):
            owners = [k for k in range(len(spans)) if max_context(spans, k, pos)]
            assert len(owners) == 1
            s, length = spans[owners[0]]
            assert s <= pos < s + length


def test_step_windows_with_max_context_locate_and_decode_the_answer(tokenizer):
    card = REGISTRY.card("cmrc2018").card
    assert (card.protocol.doc_stride_mode, card.protocol.max_context_rule) == ("step", True)
    card = with_protocol(card, doc_stride=16)
    filler = " ".join(["El riu passa per la plana i la ciutat."] * 12)
    context = f"{filler} Ahir, Marta va comprar el llibre a Girona. {filler}"
    item = QAItem("q1", "Qui va comprar el llibre a Girona?", context, ["Marta"], [context.index("Marta")])
    head = QAHead(card, CatalanKit())
    ex = QAExamples([item])
    features = head.encode(ex, tokenizer, max_length=48)
    c_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    q_len = len(tokenizer(item.question, add_special_tokens=False)["input_ids"])
    room = 48 - q_len - tokenizer.num_special_tokens_to_add(pair=True)
    assert len(features) == len(doc_spans(len(c_ids), room, 16)) > 3
    for k, (f, (start, length)) in enumerate(zip(features, doc_spans(len(c_ids), room, 16))):
        assert len(f["input_ids"]) <= 48
        window = [t for t, o in zip(f["input_ids"], f["offsets"]) if o is not None]
        assert window == c_ids[start : start + length]
    hits = [f for f in features if f["start_positions"] != 0]
    assert hits
    outputs = []
    for f in features:  # every window that holds the answer points at it; only max-context starts may answer
        n = len(f["input_ids"])
        starts, ends = np.zeros(n), np.zeros(n)
        if f["start_positions"]:
            starts[f["start_positions"]], ends[f["end_positions"]] = 10.0, 10.0
        outputs.append((starts, ends))
    assert head.decode(ex, features, outputs) == ["Marta"]
    flagged = sum(sum(1 for x in f["max_context"] if x) for f in features)
    assert flagged == len(c_ids)  # each context token is answerable from exactly one window


# --------------------------------------------------------------------------- training loop


def _toy():
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1, 1))
    features = [{"input_ids": [1, 2, 3 + i], "labels": float(i)} for i in range(8)]

    def forward(m, batch):
        x = batch["input_ids"].float().mean(1, keepdim=True)
        return torch.nn.functional.mse_loss(m(x).squeeze(1), batch["labels"])

    return model, features, forward


def test_final_selection_returns_the_last_weights_and_keeps_the_best_epoch_as_an_extra():
    import torch

    from polyglue.langkits.training import TrainConfig, train

    model, features, forward = _toy()
    scores, snapshots = iter([0.2, 0.9, 0.5]), []

    def select(m):
        snapshots.append({n: p.detach().clone() for n, p in m.named_parameters()})
        return next(scores)

    result, state = train(model, features, forward, TrainConfig(learning_rate=0.05, epochs=3, batch_size=4, selection="final"), select, pad_id=0)
    assert (result.epoch, result.score) == (3, 0.5)
    assert (result.best_epoch, result.best_score) == (2, 0.9)
    for name, value in state.items():
        assert torch.equal(value, snapshots[2][name])


def test_patience_stops_after_evaluations_without_improvement():
    from polyglue.langkits.training import TrainConfig, train

    model, features, forward = _toy()
    scores = iter([0.5, 0.4, 0.3, 0.9, 0.1, 0.1])
    config = TrainConfig(learning_rate=0.05, epochs=6, batch_size=4, patience=2)
    result, _ = train(model, features, forward, config, lambda m: next(scores), pad_id=0)
    assert [h["validation"] for h in result.history] == [0.5, 0.4, 0.3]
    assert result.stopped_early and result.steps == 6 and result.best_epoch == 1


def test_eval_every_steps_scores_at_those_steps_and_at_the_last_one():
    from polyglue.langkits.training import TrainConfig, train

    model, features, forward = _toy()
    config = TrainConfig(learning_rate=0.05, epochs=3, batch_size=2, eval_every=5)  # 4 steps an epoch, 12 in all
    result, _ = train(model, features, forward, config, lambda m: 0.0, pad_id=0)
    assert [h["step"] for h in result.history] == [5, 10, 12]


def test_final_model_equals_a_trainer_configured_as_run_glue(text_bert, tokenizer):
    """Same tiny random BERT, data, epochs, lr and schedule; one batch per epoch (so the
    sampler's order does not matter) and no dropout (so RNG streams do not matter)."""
    import torch
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    from polyglue.langkits.tasks.sequence import SequenceHead
    from polyglue.langkits.training import TrainConfig, predict, train

    texts = ["el riu passa per la plana", "la ciutat", "ahir marta va comprar el llibre a girona", "el llibre", "la plana i la ciutat", "marta"] * 2
    labels = [0, 1, 0, 1, 1, 0] * 2
    enc = tokenizer(texts, truncation=True, max_length=32)
    rows = [{"input_ids": enc["input_ids"][i], "labels": labels[i]} for i in range(len(texts))]
    torch.manual_seed(42)
    base = AutoModelForSequenceClassification.from_pretrained(text_bert, num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    ours, theirs = copy.deepcopy(base), copy.deepcopy(base)

    head = SequenceHead(REGISTRY.card("sst2").card, None)
    config = TrainConfig(learning_rate=5e-4, epochs=3, batch_size=len(rows), selection="final", seed=42)
    result, state = train(ours, [dict(r) for r in rows], head.forward, config, lambda m: 0.0, pad_id=tokenizer.pad_token_id)
    ours.load_state_dict(state, strict=False)

    args = TrainingArguments(
        output_dir=str(text_bert.parent / "trainer-out"), num_train_epochs=3, per_device_train_batch_size=len(rows), learning_rate=5e-4,
        seed=42, save_strategy="no", eval_strategy="no", logging_strategy="no", report_to=[], disable_tqdm=True, use_cpu=True,
        dataloader_num_workers=0,
    )
    trainer = Trainer(model=theirs, args=args, train_dataset=rows, data_collator=DataCollatorWithPadding(tokenizer))
    trainer.remove_callback(PrinterCallback)
    trainer.train()

    def logits(model):
        out = predict(model, [dict(r) for r in rows], lambda m, b: list(m(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits.numpy()), pad_id=tokenizer.pad_token_id, batch_size=4, device="cpu")
        return np.stack(out)

    assert result.steps == 3
    before = logits(base)
    a, b = logits(ours), logits(theirs)
    assert np.abs(a - before).max() > 1e-3  # training moved the model
    assert np.abs(a - b).max() < 1e-4  # stated tolerance: float32 reordering only


# --------------------------------------------------------------------------- inputs


def test_span_markers_wrap_the_noun_and_the_pronoun_at_their_indexes():
    target = {"span1_text": "小明", "span1_index": 0, "span2_text": "他", "span2_index": 3}
    assert mark_spans("小明说他很累", target, "row 1") == "_小明_说[他]很累"
    assert mark_spans("他说小明很累", {"span1_text": "小明", "span1_index": 2, "span2_text": "他", "span2_index": 0}, "row 1") == "[他]说_小明_很累"
    with pytest.raises(DataError, match="row 7: span2 '他' is not at index 4"):
        mark_spans("小明说他很累", {**target, "span2_index": 4}, "row 7")


# --------------------------------------------------------------------------- keys and comparability


def test_a_recipe_field_changes_the_unit_key_and_is_typed_in_the_settings():
    from polyglue.contract import ProtocolSettings
    from polyglue.encoders import parse_encoder
    from polyglue.runs import protocol as protocols

    card = REGISTRY.card("sst2").card
    enc = parse_encoder("bow")
    base = protocols.resolve(card, enc, None, {})
    assert base["selection"] == "final"
    keys = {protocols.config_hash(base)}
    for field, value in [("selection", "best"), ("max_grad_norm", None), ("adam_epsilon", 1e-6), ("eval_every", 100), ("selection_split", "holdout")]:
        config = protocols.resolve(with_protocol(card, **{field: value}), enc, None, {})
        keys.add(protocols.config_hash(config))
        assert getattr(ProtocolSettings(**config), field) == value
    assert len(keys) == 6


def test_overrides_are_reasons_card_deviations_are_listed_and_only_overrides_are_announced():
    from polyglue.runs.comparability import assess, override_notice

    card = REGISTRY.card("wikiann-el").card
    config = {"name": "finetune", **card.protocol.model_dump()}
    plain = assess(card, config, {}, default_protocol="finetune")
    assert plain["comparable"] and plain["overrides"] == [] and plain["reasons"] == []
    assert any("WikiANN-el stands in" in d for d in plain["deviations"])  # shown with the row in every report
    assert override_notice([plain]) is None

    glue = REGISTRY.card("rte").card
    config = {"name": "finetune", **glue.protocol.model_dump(), "learning_rate": 1e-4}
    over = assess(glue, config, {"learning_rate": 1e-4, "batch_size": None}, default_protocol="finetune")
    assert not over["comparable"] and over["reasons"] == ["protocol.learning_rate=0.0001 overrides the card's 2e-05"]
    assert override_notice([over, over]) == "note: these rows will not be comparable with published results (protocol.learning_rate=0.0001 overrides the card's 2e-05)"
    assert assess(glue, {"name": "finetune", **glue.protocol.model_dump()}, {}, default_protocol="finetune")["comparable"]


def test_the_greek_suite_runs_three_seeds_unless_told(text_data):
    from polyglue.runs.plan import RunRequest, plan_run

    default = plan_run(REGISTRY, RunRequest(suite="greek", models=["bow"], tasks=["xnli-el"], data_dir=text_data))
    one = plan_run(REGISTRY, RunRequest(suite="greek", models=["bow"], tasks=["xnli-el"], data_dir=text_data, seeds=1))
    assert sorted(t.unit.seed for t in default.tasks) == [0, 1, 2]
    assert [t.unit.seed for t in one.tasks] == [0]


def test_cls_sentence_head_reads_the_raw_first_token_state(text_bert, tokenizer):
    import torch
    from transformers import AutoModelForSequenceClassification

    from polyglue.langkits.protocols.finetune import use_raw_cls

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(text_bert, num_labels=3).eval()
    batch = tokenizer(["el riu passa per la plana", "la ciutat"], padding=True, return_tensors="pt")
    with torch.no_grad():
        pooled = model(**batch).logits
        use_raw_cls(model)
        raw = model(**batch).logits
        cls_state = model.base_model(**batch).last_hidden_state[:, 0]
    assert torch.allclose(raw, model.classifier(cls_state), atol=1e-6)
    assert not torch.allclose(raw, pooled, atol=1e-3)


def test_an_override_on_the_command_line_prints_one_line_before_the_run(cli, tmp_path, text_data):
    result = cli("run", "--suite", "glue", "--tasks", "rte", "--model", "bow", "--batch-size", "8", "--limit", "16",
                 "--data-dir", text_data, "--runs-dir", tmp_path / "runs", "-q")
    assert result.code == 0, result.err
    notes = [line for line in result.err.splitlines() if "not be comparable" in line]
    assert notes == ["note: these rows will not be comparable with published results "
                     "(protocol.batch_size=8 overrides the card's 32; --limit 16: a debug run, not the full unit)"]
