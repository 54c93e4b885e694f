"""Tiny randomly initialised transformers built on the fly (the demo and the tests use them).

No download: a WordPiece vocabulary is trained on the given corpus with `tokenizers`,
and a BERT-shaped model with random weights is saved next to it, so `hf:<folder>` loads
it through exactly the same code path as a real checkpoint.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def deterministic_vocab(tok, corpus: list[str], vocab_size: int) -> dict[str, int]:
    """A WordPiece vocabulary that depends only on `corpus`: the special tokens, every character
    (as a word start and as a `##` continuation, so nothing is unknown), then the most frequent
    words, ties broken alphabetically.

    The `tokenizers` WordPiece trainer breaks frequency ties in hash-map order, which changes
    from process to process (three demo runs gave three vocabularies and three tiny-bert
    means), so a resumed demo could differ from an uninterrupted one. This one never does.
    """
    from collections import Counter

    words: Counter = Counter()
    for text in corpus:
        normalized = tok.normalizer.normalize_str(text) if tok.normalizer is not None else text
        words.update(w for w, _ in tok.pre_tokenizer.pre_tokenize_str(normalized))
    chars = sorted({ch for w in words for ch in w})
    tokens = list(SPECIAL) + chars + [f"##{ch}" for ch in chars]
    seen = set(tokens)
    for word, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(tokens) >= vocab_size:
            break
        if word not in seen:
            tokens.append(word)
            seen.add(word)
    return {token: i for i, token in enumerate(tokens)}


def build_tiny_bert(out_dir: Path, corpus: list[str], *, seed: int = 0, vocab_size: int = 1000, hidden_size: int = 64, layers: int = 2, heads: int = 2, max_positions: int = 256,
                    intermediate_size: int | None = None) -> Path:
    """Build a WordPiece tokenizer from `corpus` (deterministically), save it with a random BertModel in `out_dir`
    (feed-forward width `intermediate_size`, default 2 x hidden; BERT's own is 4 x)."""
    from polyglue.torch_compat import prepare

    prepare()
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.model = models.WordPiece(vocab=deterministic_vocab(tok, corpus, vocab_size), unk_token="[UNK]")
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
        model_max_length=max_positions,
    )
    fast.save_pretrained(out_dir)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=hidden_size, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=intermediate_size or 2 * hidden_size, max_position_embeddings=max_positions,
    )
    BertModel(config).save_pretrained(out_dir)
    return out_dir
