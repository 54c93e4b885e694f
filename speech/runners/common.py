"""What every speech runner does first: find the data, build the upstream, fill the feature cache.

Also the shared bookkeeping: settings from the card protocol and CLI flags (`--max-steps`
caps the steps of every head), language grouping (per-language heads or one pooled head)
and the metric layout: the plain metric name holds the mean over the languages present,
`<metric>@<lang>` each language.
"""

from __future__ import annotations

import math
import time

import numpy as np

from polyglue import metrics
from polyglue.cards import vocab
from polyglue.data.holdout import holdout  # noqa: F401 - re-exported for the speech runners
from polyglue.speech.corpus import Utterance
from polyglue.speech.corpus.select import TaskData, corpus_root, load_task_data

#: Task types that train one head per language unless the card says otherwise.
PER_LANGUAGE_TASKS = frozenset({"speaker-id", "speaker-verification", "asr"})

MS_PER_SECOND = 1000.0
SAMPLE_RATE_HZ = 16000
"""Every speech card's audio rate (upstreams and `ReencodeBatcher` read 16 kHz)."""


class SpeechUnit:
    """Data, upstream and cached features of one unit, plus timings for `extras`."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.card = ctx.card
        self.timings: dict[str, float] = {}
        t0 = time.perf_counter()
        self.root = corpus_root(ctx.data_dir, ctx.suite, self.card)
        self.data: TaskData = load_task_data(
            self.card, self.root, requested=ctx.settings.languages, limit=ctx.settings.limit, seed=ctx.seed,
            train_folder=ctx.settings.train_folder,
        ) if self.card.task != "query-by-example" else TaskData()
        self.timings["load_s"] = time.perf_counter() - t0
        self._features = None

    @property
    def features(self):
        """The upstream's cached features (built on first use; the model itself loads only if audio is missing)."""
        if self._features is None:
            from polyglue.speech.featcache import UpstreamFeatures
            from polyglue.speech.upstreams import build_upstream

            upstream = build_upstream(self.ctx.encoder, self.ctx.device)
            if hasattr(upstream, "dtype"):  # hf upstreams: float32 unless the card asks for bfloat16
                upstream.dtype = self.ctx.settings.feature_dtype
            self._features = UpstreamFeatures(
                upstream, self.ctx.cache, storage=self.ctx.settings.feature_storage, effects=self.effects()
            )
        return self._features

    def effects(self):
        """The card's waveform effects (None for `none`): applied before the upstream, part of the cache key."""
        if getattr(self.ctx.settings, "audio_effects", "none") == "indic-asv-sox":
            from polyglue.speech.effects import SoxEffects

            return SoxEffects()
        return None

    def prepare(self, utterances: list[Utterance]) -> None:
        t0 = time.perf_counter()
        self.features.prepare(utterances, self.ctx.step)
        self.timings["features_s"] = self.timings.get("features_s", 0.0) + time.perf_counter() - t0

    def frames(self, seconds: float | None) -> int | None:
        """A duration in s as a number of this upstream's frames (random-crop lengths)."""
        if seconds is None:
            return None
        return int(seconds * MS_PER_SECOND / self.features.upstream.frame_shift_ms)

    def train_batcher(self, crop_seconds: float | None):
        """Training batches with random crops: cut from cached features (`crop: cached`) or re-encoded (`reencode`)."""
        from polyglue.speech.training import Batcher, ReencodeBatcher

        if self.ctx.settings.crop == "reencode":
            self._reencoder = ReencodeBatcher(self.features, self.ctx.device, crop_seconds=crop_seconds)
            return self._reencoder
        return Batcher(self.features, self.ctx.device, crop_frames=self.frames(crop_seconds))

    # ------------------------------------------------------------------ settings

    @property
    def pooled(self) -> bool:
        mode = self.card.protocol.language_mode
        if mode is not None:
            return mode == "pooled"
        return self.card.task not in PER_LANGUAGE_TASKS

    def groups(self, items: list, language_of=lambda item: item.language) -> dict[str | None, list]:
        """Items by language (one group, key None, when pooled or when the data names no language)."""
        if self.pooled or not self.data.present:
            return {None: list(items)}
        out: dict[str | None, list] = {lang: [] for lang in self.data.present}
        for item in items:
            out.setdefault(language_of(item), []).append(item)
        return out

    def fit_settings(self, n_train: int, *, optimizer: str, grad_clip: float | None, weight_decay: float | None = None):
        from polyglue.speech.training import FitSettings

        s = self.ctx.settings
        steps = s.max_steps or max(1, math.ceil(s.epochs * math.ceil(n_train / s.batch_size)))
        return FitSettings(
            steps=steps,
            batch_size=s.batch_size,
            learning_rates=tuple(s.lr_grid or [s.learning_rate]),
            optimizer=optimizer,
            weight_decay=s.weight_decay if weight_decay is None else weight_decay,
            warmup_ratio=s.warmup_ratio,
            grad_clip=grad_clip,
            eval_every=s.eval_every if isinstance(s.eval_every, int) else None,  # `epoch` is a text interval
            seed=self.ctx.seed,
            data_seed=s.data_seed,
        )

    # ------------------------------------------------------------------ efficiency

    def measure_efficiency(self, result, head, items: list[Utterance], head_forward=None, extra_flops=None) -> None:
        """Efficiency figures of the whole inference path, waveform to prediction, stored in
        `result.extras` (`polyglue.efficiency`): each utterance is read (and put through the card's
        audio effects), encoded by the upstream now (no feature cache) and scored by the trained
        `head`. Parameters: the upstream's (frozen) plus the head's (trainable). The example size
        is seconds of audio. `head_forward(head, x, lengths)` defaults to `head(x, lengths)`;
        `extra_flops(utt)`: the hand count of work outside torch (QbE's DTW search)."""
        from polyglue import efficiency
        from polyglue.speech.training import ReencodeBatcher

        encode = ReencodeBatcher(self.features, self.ctx.device, crop_seconds=None)
        run_head = head_forward or (lambda model, x, lengths: model(x, lengths))
        head.eval()

        def forward(utts: list[Utterance]) -> None:
            x, lengths = encode(utts)
            run_head(head, x, lengths)

        upstream = self.features.upstream
        modules = list(getattr(upstream, "torch_modules", lambda: [])())
        counts = efficiency.add_counts(efficiency.parameter_counts(*modules, frozen=True), efficiency.parameter_counts(head))
        identity = efficiency.model_identity(*modules, head)

        def flop_key(utt: Utterance) -> tuple:
            return identity, len(encode.waveform(utt))  # the path's FLOPs depend only on the models and the waveform's length

        efficiency.add_to(result, lambda: efficiency.measure(
            forward, items, parameters=counts, batch_size=self.ctx.settings.batch_size, device=self.ctx.device,
            size_of=lambda utt: len(encode.waveform(utt)) / SAMPLE_RATE_HZ, size_name="audio_seconds_per_example",
            freeze=[*modules, head],
            flop_key=flop_key,
            extra_flops=extra_flops,
        ))

    # ------------------------------------------------------------------ results

    def extras(self, **more) -> dict:
        stats = self._features.stats if self._features is not None else {}
        out = {
            "languages": self.data.languages_extra(),
            "language_mode": "pooled" if self.pooled else "per-language",
            "train_data": f"{self.ctx.settings.train_folder}/ (train_folder)" if self.ctx.settings.train_folder
            else f"the '{self.card.splits.train.name}' split" if self.card.splits.train else None,
            "crop": {"mode": self.ctx.settings.crop,
                     "reencode_forward_calls": getattr(getattr(self, "_reencoder", None), "forward_calls", None)},
            "upstream": {
                "spec": self.ctx.encoder.spec,
                "layers": self._features.layers if self._features else None,
                "hidden": self._features.hidden if self._features else None,
                "frame_shift_ms": self._features.upstream.frame_shift_ms if self._features else None,
                "dtype": getattr(self._features.upstream, "dtype", "float32") if self._features else None,
            },
            "features": {
                "namespace": self._features.namespace if self._features else None,
                "computed": stats.get("computed", 0),
                "cached": stats.get("cached", 0),
                "recomputed": stats.get("recomputed", 0),
                "storage": self._features.storage if self._features else None,
                "forward_calls": stats.get("forward_calls", 0),
                "cache_bytes": self._features.size_bytes() if self._features else 0,
            },
        }
        out.update(more)
        timings = {k: round(v, 3) for k, v in self.timings.items()}
        if stats:
            timings["hash_s"] = round(stats["hash_s"], 3)
            timings["extract_s"] = round(stats["extract_s"], 3)
        out["timings"] = timings
        return out


def mean_over_languages(per_language: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per-language heads: `metrics[role][name]` = mean over the languages, plus `name@lang` for each."""
    out: dict[str, dict[str, float]] = {}
    for lang, by_role in per_language.items():
        for role, values in by_role.items():
            row = out.setdefault(role, {})
            for name, value in values.items():
                row[f"{name}@{lang}"] = value
    for role, row in out.items():
        names = sorted({key.split("@")[0] for key in row})
        for name in names:
            row[name] = float(np.mean([v for k, v in row.items() if k.startswith(name + "@")]))
    return {role: dict(sorted(row.items())) for role, row in out.items()}


def with_breakdown(names: list[str], records: list[dict], score_field: str = "pred", **context) -> dict[str, float]:
    """A pooled head: metrics over all records, plus `name@lang` over each language's records."""
    out = compute(names, [r["gold"] for r in records], [r[score_field] for r in records], **context)
    languages = sorted({lang for r in records if (lang := r.get("language"))})
    for lang in languages:
        subset = [r for r in records if r.get("language") == lang]
        for name, value in compute(names, [r["gold"] for r in subset], [r[score_field] for r in subset]).items():
            out[f"{name}@{lang}"] = value
    return out


def better_score(metric: str, value: float) -> float:
    """A validation score where higher is always better (error rates are negated)."""
    return value if vocab.METRICS[metric][0] else -value


def compute(names: list[str], gold, pred, **context) -> dict[str, float]:
    return metrics.compute(names, gold, pred, **context)


def asr_language_data(utts: dict[str, list[Utterance]], lang: str | None, train: list[Utterance], seed: int):
    """One language's ASR data as IndicSUPERB prepares it: normalised transcripts of every transcribed
    utterance, the character vocabulary of the training transcripts, and the selection split
    (validation, else a seeded hold-out of train). Returns `(train, valid, text, vocab, selection_split)`."""
    from polyglue.speech.text import CharVocab, normalize_transcript

    text = {u.id: normalize_transcript(u.transcript or "", u.language) for items in utts.values() for u in items
            if lang is None or u.language == lang}
    vocab = CharVocab.build([text[u.id] for u in train])
    valid = [u for u in utts.get("validation", []) if lang is None or u.language == lang]
    selection_split = "validation"
    if not valid:
        fit_idx, sel_idx = holdout(len(train), seed)
        valid, train = [train[i] for i in sel_idx], [train[i] for i in fit_idx]
        selection_split = "train hold-out (10%)"
    return train, valid, text, vocab, selection_split


def load_lm(settings):
    """The user's KenLM model for ASR beam search (`protocol.lm_path`), loaded before anything trains; None without one."""
    if not settings.lm_path:
        return None
    from polyglue.speech.lm import KenLMModel

    return KenLMModel(settings.lm_path, settings.lm_lexicon)


def lm_decoder(lm, chars: list[str], settings):
    """One language's beam-search decoder over `chars` (None without an LM)."""
    if lm is None:
        return None
    from polyglue.speech.lm import KenLMDecoder

    return KenLMDecoder(chars, lm, lm_weight=settings.lm_weight, word_score=settings.word_score, beam_width=settings.beam_width)


def asr_scores(names: list[str], gold: list[str], greedy: list[str], with_lm: list[str] | None) -> dict[str, float]:
    """Greedy WER/CER under the card's names, and with the LM under `<name>_lm` (the paper reports both)."""
    out = compute(names, gold, greedy)
    if with_lm is not None:
        out.update({f"{name}_lm": value for name, value in compute(names, gold, with_lm).items()})
    return out


def lm_extras(lm, decoders: dict, settings) -> dict:
    """What `extras["lm_decoding"]` says: the LM used and its settings, or that beam search was skipped."""
    if lm is None:
        return {"used": False, "note": "beam search with an LM skipped: no protocol.lm_path (greedy decoding only)"}
    first = next(iter(decoders.values()), None)
    return {
        "used": True, "lm_path": str(lm.path), "lm_sha256": settings.lm_sha256, "lexicon": str(lm.lexicon) if lm.lexicon else "ARPA 1-grams",
        "decoder": "flashlight LexiconDecoder (fairseq --w2l-decoder kenlm)", **(first.settings if first else {}),
        "lexicon_words": {key: d.lexicon_size for key, d in decoders.items()},
        "skipped_words": {key: d.skipped_words for key, d in decoders.items()},
    }


def no_training_transcripts(unit: SpeechUnit, lang: str | None):
    """The one-line error for a language without transcribed training audio, naming the file that should hold them."""
    from polyglue.errors import DataError

    split = unit.card.splits.train.name if unit.card.splits.train else "train"
    where = unit.root
    layout = unit.card.source.layout
    if layout is not None and layout.name == "kathbath":
        from polyglue.speech.corpus.kathbath import KathbathCorpus

        folder = KathbathCorpus(unit.root).language_dir(lang) if lang else unit.root
        where = (folder or unit.root / (lang or "")) / split / "transcription.txt"
    return DataError(f"{where}: no training transcripts for language '{lang or 'all'}' (ASR needs transcribed training audio)")
