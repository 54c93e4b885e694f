"""The `lora` protocol: only adapters and head learn (counted), adapters are kept and reload, units resume, bad settings fail early."""

from __future__ import annotations

import pytest

from tests.fixtures.sst2_predictions import assert_reproduces_validation_predictions
from tests.fixtures.store_rows import stored_units as _units

pytest.importorskip("peft")


def _run(cli, text_data, text_bert, runs, *extra):
    return cli(
        "run", "--suite", "glue", "--tasks", "sst2", "--model", f"tiny=hf:{text_bert}", "--protocol", "lora",
        "--max-steps", "3", "--limit", "16", "--data-dir", text_data, "--runs-dir", runs, "-q", *extra,
    )


def test_given_a_tiny_bert_when_lora_wraps_it_then_one_training_run_changes_only_adapters_and_head(text_bert):
    import torch
    import transformers

    from polyglue.cards.schema import LoraSettings
    from polyglue.langkits.protocols.lora import LoraAdapter

    class Ctx:  # what LoraAdapter reads from a RunContext
        settings = type("S", (), {"lora": LoraSettings(r=4, alpha=8, dropout=0.0)})()
        card = type("C", (), {"name": "toy"})()
        encoder = type("E", (), {"label": "tiny"})()

    torch.manual_seed(0)
    base = transformers.AutoModelForSequenceClassification.from_pretrained(str(text_bert), num_labels=3)
    adapter = LoraAdapter(Ctx())
    model = adapter.wrap(base)
    # hand count: 2 layers x (query, value) x (A: r x 32 + B: 32 x r); head Linear(32, 3)
    assert adapter.counts["adapter"] == 2 * 2 * (4 * 32 + 32 * 4)
    assert adapter.counts["head"] == 32 * 3 + 3
    assert adapter.counts["trainable"] == adapter.counts["adapter"] + adapter.counts["head"]
    assert adapter.counts["total"] == adapter.counts["frozen"] + adapter.counts["head"] + adapter.counts["adapter"]
    from polyglue.langkits.training import _param_groups

    # the training loop's optimiser holds the trainable parameters only (it never iterates the frozen encoder)
    assert sum(p.numel() for g in _param_groups(model, 0.01) for p in g["params"]) == adapter.counts["trainable"]
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids = torch.randint(5, 50, (4, 12))
    for step in range(3):
        loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.tensor([0, 1, 2, 1])).loss
        loss.backward()
        if step == 0:  # peft freezes the base: no gradient is computed or stored for it (embeddings included)
            frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
            assert any("word_embeddings" in n for n in frozen)
            assert all(p.grad is None for p in model.parameters() if not p.requires_grad)
        optimizer.step()
        optimizer.zero_grad()
    changed = {n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())}
    assert changed, "nothing trained"
    assert all(("lora_" in n) or ("modules_to_save" in n) for n in changed), sorted(changed)
    assert any("lora_B" in n for n in changed) and any("modules_to_save" in n for n in changed)
    assert sum(p.numel() for n, p in model.named_parameters() if n in changed) <= adapter.counts["trainable"]


def test_given_lora_then_the_unit_counts_parameters_keeps_its_adapter_and_resumes(cli, tmp_path, text_data, text_bert):
    import torch

    from polyglue.langkits.protocols.lora import load_trained

    runs = tmp_path / "runs"
    first = _run(cli, text_data, text_bert, runs, "--lora-r", "4")
    assert first.code == 0, first.err
    [unit] = _units(runs)
    params = unit["extras"]["parameters"]
    assert params["adapter"] == 2 * 2 * (4 * 32 + 32 * 4) and params["head"] == 32 * 2 + 2
    assert params["trainable"] == params["adapter"] + params["head"]
    efficiency = unit["extras"]["efficiency"]
    assert efficiency["parameters"] == params and efficiency["flops_per_example"] > 0 and efficiency["latency_ms_batch1"] > 0
    assert unit["protocol_config"]["lora"]["r"] == 4
    assert "lora.r=4 overrides the card's 8" in unit["extras"]["comparability"]["reasons"]
    folder = runs / unit["extras"]["artifacts"]
    assert {"adapter_config.json", "adapter_model.safetensors", "polyglue_adapter.json"} <= {p.name for p in folder.iterdir()}

    # the kept adapter rebuilds the trained model: encoder weights are the pretrained ones, the adapters
    # learned, and its validation predictions are the unit's
    from transformers import AutoModel

    model = load_trained(folder, base=text_bert).eval()
    pretrained = AutoModel.from_pretrained(str(text_bert)).state_dict()
    encoder = {n.split("bert.", 1)[1].replace("base_layer.", ""): p for n, p in model.named_parameters() if ".bert." in n and "lora_" not in n}
    assert encoder and all(torch.equal(p, pretrained[n]) for n, p in encoder.items())
    assert any(p.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n)
    assert_reproduces_validation_predictions(model, runs, unit, text_data, text_bert)

    # a second run reuses the finished unit: nothing retrains, the adapter stays
    second = _run(cli, text_data, text_bert, runs, "--lora-r", "4")
    assert second.code == 0, second.err
    assert "0 run, 1 reused" in second.err
    assert folder.is_dir()


def test_given_an_unknown_target_module_then_one_line_names_the_card_field_and_exit_2(cli, tmp_path, text_data, text_bert):
    result = _run(cli, text_data, text_bert, tmp_path / "runs", "--lora-targets", "query,attn_q")
    assert result.code == 2
    assert "Traceback" not in result.err
    [line] = [l for l in result.err.splitlines() if "attn_q" in l]
    assert "protocol.lora.target_modules" in line and "query" in line and "value" in line


def test_given_the_lora_paper_recipe_then_planning_applies_its_per_task_settings(text_data):
    from polyglue.cards.registry import Registry
    from polyglue.errors import UserError
    from polyglue.runs.plan import RunRequest, plan_run

    registry = Registry.discover()

    def plan(tasks, **lora):
        return plan_run(registry, RunRequest(suite="glue", models=["hf:roberta-base"], tasks=tasks, protocol="lora", data_dir=text_data, overrides={"lora": lora or None}))

    [task] = plan(["rte"], recipe="hu2021-roberta-base").tasks
    config = task.protocol_config
    assert (config["learning_rate"], config["batch_size"], config["epochs"], config["max_length"]) == (5e-4, 32, 80, 512)
    assert (config["warmup_ratio"], config["weight_decay"]) == (0.06, 0.1)
    assert config["lora"] == {"r": 8, "alpha": 16.0, "dropout": 0.0, "target_modules": None, "recipe": "hu2021-roberta-base"}
    # a flag beats the recipe
    [task] = plan(["rte"], recipe="hu2021-roberta-base", r=16).tasks
    assert task.protocol_config["lora"]["r"] == 16
    with pytest.raises(UserError, match=r"--recipe: recipe 'hu2021-roberta-base' has settings for cards .* not for 'wnli'"):
        plan(["wnli"], recipe="hu2021-roberta-base")
    with pytest.raises(UserError, match=r"--recipe: unknown recipe 'nope'"):
        plan(["rte"], recipe="nope")
    with pytest.raises(UserError, match=r"--lora-r: "):
        plan(["rte"], r=0)
    # lora settings without the lora protocol are refused, not silently dropped
    with pytest.raises(UserError, match="only the lora protocol"):
        plan_run(registry, RunRequest(suite="glue", models=["hf:roberta-base"], tasks=["rte"], data_dir=text_data, overrides={"lora": {"r": 4}}))


def test_given_another_protocol_then_units_carry_no_lora_block(text_data):
    from polyglue.cards.registry import Registry
    from polyglue.runs.plan import RunRequest, plan_run

    [task] = plan_run(Registry.discover(), RunRequest(suite="glue", models=["hf:roberta-base"], tasks=["rte"], data_dir=text_data)).tasks
    assert "lora" not in task.protocol_config
