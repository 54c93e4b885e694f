"""Fine-tuning that selects on the card's own validation split does not predict validation twice.

The last evaluation's outputs are the validation predictions when the scored weights are the
last evaluated ones (`selection: final`, as GLUE): one pass per evaluation, none after.
"""

from __future__ import annotations

from polyglue.runs.store import Store


def test_validation_is_predicted_once_per_evaluation_and_scores_as_the_last_evaluation(cli, monkeypatch, tmp_path, text_data, text_bert):
    from polyglue.langkits import training

    passes: list[int] = []
    real = training.predict

    def counting(model, features, *args, **kwargs):
        passes.append(len(features))
        return real(model, features, *args, **kwargs)

    monkeypatch.setattr(training, "predict", counting)
    runs = tmp_path / "runs"
    result = cli("run", "--suite", "glue", "--tasks", "rte", "--model", f"tiny=hf:{text_bert}", "--protocol", "finetune",
                 "--max-steps", "3", "--limit", "16", "--data-dir", text_data, "--runs-dir", runs, "-q")
    assert result.code == 0, result.err
    store = Store(runs)
    [unit] = store.units()
    store.close()
    extras = unit["extras"]
    history = extras["selection"]["history"][str(extras["selection"]["learning_rate"])]
    assert extras["selection"]["mode"] == "final"
    assert extras["training"]["length_grouping"] is False  # shuffled batches, as run_glue.py's RandomSampler
    assert unit["metrics"]["validation"]["accuracy"] == history[-1]["validation"]
    blind = sum(extras.get("hidden_predictions", {}).get("splits", {}).values())
    # One validation pass per evaluation, plus the hidden test split predicted for submission.
    assert passes == [16] * len(history) + ([blind] if blind else [])
