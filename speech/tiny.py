"""A tiny randomly initialised wav2vec2 saved as a Hugging Face folder (demo, tests, perf).

No download: a `Wav2Vec2Config` with small dimensions, random weights and a
`Wav2Vec2FeatureExtractor` are saved with `save_pretrained`, so `hf:<folder>` goes through
exactly the code path of a real checkpoint (configs, weights hash, `AutoModel`).
"""

from __future__ import annotations

from pathlib import Path


def build_tiny_wav2vec2(out_dir: Path, *, seed: int = 0, hidden_size: int = 32, layers: int = 2, heads: int = 2,
                        conv_dim: int = 16, feat_extract_norm: str = "group", do_normalize: bool = True) -> Path:
    """Save a random Wav2Vec2Model (`layers + 1` hidden states of `hidden_size`) to `out_dir`."""
    from polyglue.torch_compat import prepare

    prepare()
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = Wav2Vec2Config(
        hidden_size=hidden_size, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=2 * hidden_size,
        conv_dim=(conv_dim,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        feat_extract_norm=feat_extract_norm, do_stable_layer_norm=feat_extract_norm == "layer",
    )
    Wav2Vec2Model(config).save_pretrained(out_dir)
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=do_normalize,
        return_attention_mask=feat_extract_norm == "layer",
    ).save_pretrained(out_dir)
    return out_dir
