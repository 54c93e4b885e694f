"""An out-of-memory batch halves, gradient accumulation doubles (same effective batch), and the unit records it."""

from __future__ import annotations



def test_given_an_oom_on_the_first_try_then_half_the_batch_twice_the_accumulation_and_recorded(cli, tmp_path, text_data, text_bert, monkeypatch):
    import torch

    from polyglue.langkits import training

    real_train = training.train
    seen = []

    def train(model, features, forward, config, *args, **kwargs):
        seen.append((config.batch_size, config.gradient_accumulation))
        if len(seen) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_train(model, features, forward, config, *args, **kwargs)

    monkeypatch.setattr(training, "train", train)
    runs = tmp_path / "runs"
    result = cli("run", "--suite", "glue", "--tasks", "rte", "--model", f"tiny=hf:{text_bert}", "--protocol", "finetune",
                 "--max-steps", "2", "--data-dir", text_data, "--runs-dir", runs, "--quiet")
    assert result.code == 0, result.err
    assert seen == [(32, 1), (16, 2)]  # the card's batch 32, then 16 × 2 steps of accumulation
    from polyglue.runs.store import Store

    store = Store(runs)
    try:
        (unit,) = store.units()
    finally:
        store.close()
    training_info = unit["extras"]["training"]
    assert (training_info["batch_size"], training_info["gradient_accumulation"]) == (16, 2)
    assert training_info["oom_halvings"] == [{"learning_rate": 2e-05, "from": {"batch_size": 32, "gradient_accumulation": 1},
                                              "to": {"batch_size": 16, "gradient_accumulation": 2}}]


def test_given_another_error_then_it_is_not_retried(cli, tmp_path, text_data, text_bert, monkeypatch):
    from polyglue.langkits import training

    calls = []

    def train(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(training, "train", train)
    result = cli("run", "--suite", "glue", "--tasks", "rte", "--model", f"tiny=hf:{text_bert}", "--protocol", "finetune",
                 "--max-steps", "2", "--data-dir", text_data, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.code == 1 and "shape mismatch" in result.err and calls == [1]
