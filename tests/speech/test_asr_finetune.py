"""ASR by CTC fine-tuning (the IndicSUPERB paper's protocol): the tiny demo wav2vec2 learns on the demo corpus."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def demo_hindi(tmp_path_factory):
    from polyglue.demo.speech import SIZE
    from polyglue.demo.speech_corpus import write_kathbath_corpus
    from polyglue.speech.corpus.kathbath import KathbathCorpus
    from polyglue.speech.tiny import build_tiny_wav2vec2

    root = tmp_path_factory.mktemp("asr-ft")
    write_kathbath_corpus(root / "corpus", ("hindi",), size=SIZE, tasks=("utterances",))
    corpus = KathbathCorpus(root / "corpus")
    return build_tiny_wav2vec2(root / "w2v2"), corpus.utterances("hi", "train"), corpus.utterances("hi", "valid")


def test_ctc_fine_tuning_lowers_cer_below_the_untrained_model(demo_hindi):
    from polyglue import metrics
    from polyglue.speech.audio import read_audio
    from polyglue.speech.ctc_finetune import CTCSettings, finetune, greedy, load_ctc_model
    from polyglue.speech.text import CharVocab, normalize_transcript

    folder, train, valid = demo_hindi
    text = {u.id: normalize_transcript(u.transcript, "hi") for u in train + valid}
    vocab = CharVocab.build([text[u.id] for u in train])
    train_audio, valid_audio = [read_audio(u.path) for u in train], [read_audio(u.path) for u in valid]

    def cer(model):
        hyp = greedy(model, valid_audio, vocab, normalize=True, layer_norm=False, device="cpu")
        return metrics.compute(["cer"], [text[u.id] for u in valid], hyp)["cer"]

    torch.manual_seed(0)
    model = load_ctc_model(str(folder), vocab)
    assert not any(p.requires_grad for p in model.wav2vec2.feature_extractor.parameters())  # frozen, as fairseq
    untrained = cer(model)
    result = finetune(model, train_audio, [vocab.encode(text[u.id]) for u in train], cer,
                      CTCSettings(steps=24, batch_size=8, learning_rate=3e-3, eval_every=8), normalize=True, layer_norm=False, device="cpu")
    assert [h["step"] for h in result.history] == [8, 16, 24]
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert result.validation_wer < untrained
    assert cer(result.model) == pytest.approx(result.validation_wer)  # the best checkpoint is the one returned


def test_finetune_protocol_is_registered_for_asr_and_needs_a_wav2vec2_folder():
    from polyglue.encoders import parse_encoder
    from polyglue.errors import UserError
    from polyglue.runs.dispatch import get_runner
    from polyglue.speech.runners.asr_finetune import _upstream_folder

    assert get_runner("asr", "finetune").__module__ == "polyglue.speech.runners.asr_finetune"

    class Ctx:
        encoder = parse_encoder("fbank")

    with pytest.raises(UserError, match="hf:<local wav2vec2 folder>"):
        _upstream_folder(Ctx())


def test_lora_on_the_wav2vec2_upstream_trains_only_adapters_and_the_ctc_layer_and_resumes(cli, tmp_path, kathbath_dir, tiny_w2v2):
    """`--protocol lora` on the ASR card: q/v adapters + CTC layer learn (hand-counted), the feature
    encoder and the rest stay as pretrained, loss falls, the adapter reloads, a rerun reuses the unit."""
    pytest.importorskip("peft")
    import json

    from tests.speech.conftest import read_units

    from polyglue.speech.runners.asr_finetune import load_trained_lora

    runs = tmp_path / "runs"
    args = ("run", "--suite", "indicsuperb", "--tasks", "indicsuperb-asr", "--model", f"w2v=hf:{tiny_w2v2}", "--protocol", "lora",
            "--languages", "hi", "--max-steps", "16", "--learning-rate", "0.005", "--lora-r", "4", "-o", "protocol.eval_every=4",
            "--data-dir", kathbath_dir, "--runs-dir", runs, "-q")
    first = cli(*args)
    assert first.code == 0, first.err
    [unit] = read_units(runs).values()
    extras = unit["extras"]
    config = json.loads((tiny_w2v2 / "config.json").read_text())
    hidden, layers = config["hidden_size"], config["num_hidden_layers"]
    [selection] = extras["selection"].values()
    vocab = len(selection["vocabulary"]) + 1
    params = extras["parameters"]
    assert params["adapter"] == layers * 2 * (4 * hidden + hidden * 4)  # q_proj, v_proj: A (r x d) + B (d x r)
    assert params["head"] == hidden * vocab + vocab
    assert params["trainable"] == params["adapter"] + params["head"]
    assert extras["lora"]["target_modules_used"] == ["q_proj", "v_proj"]
    # efficiency figures of the fine-tuned path; throughput from the unit's own scoring pass (no LM here)
    record = extras["efficiency"]
    assert record["parameters"] == params and record["flops_per_example"] > 0 and record["latency_ms_batch1"] > 0
    assert record["throughput_source"] == "unit prediction pass" and record["throughput_examples"] == sum(extras["n_examples"][r] for r in unit["metrics"])
    assert record["throughput_batch_size"] == (8 if config.get("feat_extract_norm") == "layer" else 1)
    history = selection["checkpoints"]
    assert [h["step"] for h in history] == [4, 8, 12, 16]
    assert history[-1]["loss"] < history[0]["loss"]
    folder = runs / extras["artifacts"]
    assert {"hi.adapter_config.json", "hi.adapter_model.safetensors", "hi.polyglue_adapter.json"} <= {p.name for p in folder.iterdir()}

    import torch
    from transformers import Wav2Vec2ForCTC

    model = load_trained_lora(folder, "hi", base=tiny_w2v2)
    pretrained = Wav2Vec2ForCTC.from_pretrained(str(tiny_w2v2)).wav2vec2.state_dict()
    kept = {n.split("wav2vec2.", 1)[1].replace("base_layer.", ""): p for n, p in model.named_parameters() if ".wav2vec2." in n and "lora_" not in n}
    assert kept and all(torch.equal(p, pretrained[n]) for n, p in kept.items() if n in pretrained)
    assert any(p.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n)

    second = cli(*args)
    assert second.code == 0, second.err
    assert "0 run, 1 reused" in second.err


def test_lora_on_the_asr_card_refuses_an_unknown_target_module_in_one_line(cli, tmp_path, kathbath_dir, tiny_w2v2):
    pytest.importorskip("peft")
    result = cli("run", "--suite", "indicsuperb", "--tasks", "indicsuperb-asr", "--model", f"w2v=hf:{tiny_w2v2}", "--protocol", "lora",
                 "--languages", "hi", "--lora-targets", "query", "--data-dir", kathbath_dir, "--runs-dir", tmp_path / "runs", "-q")
    assert result.code == 2 and "Traceback" not in result.err
    [line] = [l for l in result.err.splitlines() if "'query'" in l]
    assert "card 'indicsuperb-asr' field protocol.lora.target_modules" in line and "q_proj" in line
