"""The `prompt` and `prefix` protocols: only the virtual tokens and the head learn (counted), the adapter
is kept and reloads, units resume, and what peft cannot do on the model or task is refused at planning."""

from __future__ import annotations

import pytest

from tests.fixtures.sst2_predictions import assert_reproduces_validation_predictions
from tests.fixtures.store_rows import stored_units as _units

pytest.importorskip("peft")


def _run(cli, text_data, text_bert, runs, protocol, *extra, tasks="sst2", suite="glue"):
    return cli(
        "run", "--suite", suite, "--tasks", tasks, "--model", f"tiny=hf:{text_bert}", "--protocol", protocol,
        "--max-steps", "3", "--limit", "16", "--data-dir", text_data, "--runs-dir", runs, "-q", *extra,
    )


def _one_line(result, needle):
    assert result.code == 2, (result.code, result.err)
    assert "Traceback" not in result.err
    [line] = [l for l in result.err.splitlines() if needle in l]
    return line


def test_given_prompt_tuning_then_only_the_prompt_and_head_learn_the_adapter_reloads_and_the_unit_resumes(cli, tmp_path, text_data, text_bert):

    from polyglue.peft_adapters import load_trained

    runs = tmp_path / "runs"
    first = _run(cli, text_data, text_bert, runs, "prompt", "--virtual-tokens", "4", "--learning-rate", "0.05")
    assert first.code == 0, first.err
    [unit] = _units(runs)
    params = unit["extras"]["parameters"]
    # hand count: 4 virtual tokens x hidden 32; head Linear(32, 2)
    assert params["adapter"] == 4 * 32 and params["head"] == 32 * 2 + 2
    assert params["trainable"] == params["adapter"] + params["head"]
    assert params["total"] == params["frozen"] + params["head"] + params["adapter"]
    assert unit["extras"]["efficiency"]["parameters"] == params
    assert unit["protocol_config"]["prompt"] == {"num_virtual_tokens": 4, "init": "random", "init_text": None}
    assert "lora" not in unit["protocol_config"] and "prefix" not in unit["protocol_config"]
    assert "prompt.num_virtual_tokens=4 overrides the card's 20" in unit["extras"]["comparability"]["reasons"]
    folder = runs / unit["extras"]["artifacts"]
    assert {"adapter_config.json", "adapter_model.safetensors", "polyglue_adapter.json"} <= {p.name for p in folder.iterdir()}

    # the kept prompt and head rebuild the unit's model: the same validation predictions, the encoder untouched
    model = load_trained(folder, base=text_bert).eval()
    prompt = model.prompt_encoder["default"].embedding.weight
    assert prompt.shape == (4, 32)
    assert_reproduces_validation_predictions(model, runs, unit, text_data, text_bert)

    second = _run(cli, text_data, text_bert, runs, "prompt", "--virtual-tokens", "4", "--learning-rate", "0.05")
    assert second.code == 0, second.err
    assert "0 run, 1 reused" in second.err


def test_given_a_wrapped_tiny_bert_then_one_step_changes_only_the_prompt_and_head(text_bert):
    import torch
    import transformers

    from polyglue.cards.schema import PromptSettings
    from polyglue.peft_adapters import PeftAdapter

    torch.manual_seed(0)
    base = transformers.AutoModelForSequenceClassification.from_pretrained(str(text_bert), num_labels=3)
    adapter = PeftAdapter("prompt", PromptSettings(num_virtual_tokens=3), card_name="toy", encoder_label="tiny")
    model = adapter.wrap(base)
    assert adapter.reserved_positions == 3
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids = torch.randint(5, 50, (4, 10))
    model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.tensor([0, 1, 2, 1])).loss.backward()
    optimizer.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())}
    assert any("prompt_encoder" in n for n in changed) and any("modules_to_save" in n for n in changed)
    assert all("prompt_encoder" in n or "modules_to_save" in n for n in changed), sorted(changed)


def test_given_prefix_tuning_on_bert_then_planning_refuses_it_in_one_line(cli, tmp_path, text_data, text_bert):
    # transformers 5's BERT takes no past_key_values, so peft cannot attach a prefix: tried for real at planning
    line = _one_line(_run(cli, text_data, text_bert, tmp_path / "runs", "prefix"), "prefix tuning does not work")
    assert "card 'sst2' field protocol.prefix" in line and "model type bert" in line
    assert not (tmp_path / "runs").exists() or not _units(tmp_path / "runs")


@pytest.mark.parametrize(("args", "needle", "where"), [
    (("--virtual-tokens", "0"), "greater than or equal to 1", "--virtual-tokens"),
    (("--prompt-init", "text"), "init_text is set exactly when init is 'text'", "--prompt-init"),
    (("--prompt-init", "nope"), "'random', 'text' or 'sample_vocab'", "--prompt-init"),
])
def test_given_a_bad_prompt_setting_then_one_line_names_the_flag_and_exit_2(cli, tmp_path, text_data, text_bert, args, needle, where):
    line = _one_line(_run(cli, text_data, text_bert, tmp_path / "runs", "prompt", *args), needle)
    assert line.startswith(f"error: {where}: "), line


def test_given_a_task_prompt_tuning_cannot_serve_then_planning_names_the_card_and_protocol(cli, tmp_path, text_data, text_bert):
    # prompt tuning prepends virtual tokens, so per-token heads (tags, spans) would read the wrong positions
    line = _one_line(_run(cli, text_data, text_bert, tmp_path / "runs", "prompt", suite="club", tasks="ancora-ca-ner"), "does not apply")
    assert "--protocol prompt" in line and "ancora-ca-ner" in line


def test_given_prompt_flags_without_the_prompt_protocol_then_they_are_refused(cli, tmp_path, text_data, text_bert):
    line = _one_line(_run(cli, text_data, text_bert, tmp_path / "runs", "lora", "--virtual-tokens", "4"), "only the prompt protocol")
    assert line.split(":")[1].strip() == "--virtual-tokens"


def test_given_a_card_with_zero_virtual_tokens_then_validation_names_the_field():
    from pydantic import ValidationError

    from polyglue.cards.schema import ProtocolDefaults

    with pytest.raises(ValidationError, match="prefix.num_virtual_tokens"):
        ProtocolDefaults.model_validate({"prefix": {"num_virtual_tokens": 0}})


def test_given_a_text_initialised_prompt_then_it_starts_as_that_texts_token_embeddings(text_bert):
    import torch
    import transformers

    from polyglue.cards.schema import PromptSettings
    from polyglue.peft_adapters import PeftAdapter

    tok = transformers.AutoTokenizer.from_pretrained(str(text_bert))
    text = tok.decode(tok("the movie")["input_ids"][1:-1])
    ids = tok(text)["input_ids"]  # peft tokenises the init text as the tokenizer's call does: [CLS] ... [SEP] included
    base = transformers.AutoModelForSequenceClassification.from_pretrained(str(text_bert), num_labels=2)
    words = base.bert.embeddings.word_embeddings.weight.detach().clone()
    adapter = PeftAdapter("prompt", PromptSettings(num_virtual_tokens=len(ids), init="text", init_text=text),
                          card_name="toy", encoder_label="tiny", tokenizer_path=str(text_bert))
    model = adapter.wrap(base)
    assert torch.equal(model.prompt_encoder["default"].embedding.weight.detach(), words[ids])
