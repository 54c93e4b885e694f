"""The demo's tiny BERT is the same every time it is built, so a resumed demo equals an uninterrupted one."""

from __future__ import annotations

import hashlib


def test_tiny_bert_tokenizer_and_weights_are_identical_across_builds(tmp_path):
    from polyglue.demo.generate import corpus, write_demo_suite
    from polyglue.langkits.encoders.tiny import build_tiny_bert

    root = tmp_path / "demo"
    write_demo_suite(root)
    text = corpus(root)
    digests = []
    for i in range(3):  # the tokenizers trainer gave three different vocabularies in three builds
        out = build_tiny_bert(tmp_path / f"m{i}", text, vocab_size=400, hidden_size=16, layers=1)
        digests.append(tuple(hashlib.sha256((out / name).read_bytes()).hexdigest() for name in ("tokenizer.json", "model.safetensors")))
    assert len(set(digests)) == 1
