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
