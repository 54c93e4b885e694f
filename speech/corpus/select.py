"""Gather what one card needs from its corpus: utterances and trials per split role.

Languages without data are reported as missing, never a crash: a language is *present*
when it has training data and something to score. `--limit N` keeps a fixed seeded sample
of at most N items per (split role, language).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from polyglue.cards.schema import Card
from polyglue.errors import UserError
from polyglue.speech.corpus import Trial, Utterance
from polyglue.speech.corpus.kathbath import KathbathCorpus
from polyglue.speech.corpus.manifest import ManifestCorpus, layout_of
from polyglue.speech.languages import select_languages


@dataclass
class TaskData:
    """Utterances (and verification trials) per split role, restricted to the languages present."""

    utterances: dict[str, list[Utterance]] = field(default_factory=dict)
    trials: dict[str, list[Trial]] = field(default_factory=dict)
    present: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    note: str | None = None

    def languages_extra(self) -> dict:
        out: dict[str, object] = {"present": self.present, "missing": self.missing}
        if self.note:
            out["note"] = self.note
        return out


def corpus_root(data_dir: Path | None, suite: str, card: Card) -> Path:
    if data_dir is None:
        raise UserError(
            f"card '{card.name}' reads the '{layout_of(card).name}' layout from disk: give --data-dir DIR "
            f"with the corpus in DIR/{suite}/"
        )
    return Path(data_dir) / suite


def _sample(items: list, limit: int | None, seed: int, tag: str) -> list:
    if limit is None or len(items) <= limit:
        return items
    rng = random.Random(f"{seed}-{tag}")
    keep = sorted(rng.sample(range(len(items)), limit))
    return [items[i] for i in keep]


def _sample_trials(trials: list[Trial], limit: int | None, seed: int, tag: str) -> list[Trial]:
    """Like `_sample`, but keeps both trial labels (EER needs both) in their original proportion."""
    if limit is None or len(trials) <= limit:
        return trials
    by_label = {label: [t for t in trials if t.label == label] for label in (0, 1)}
    positives = min(len(by_label[1]), max(1, round(limit * len(by_label[1]) / len(trials))))
    negatives = min(len(by_label[0]), max(1, limit - positives))
    keep = {id(t) for t in _sample(by_label[1], positives, seed, tag + "-1") + _sample(by_label[0], negatives, seed, tag + "-0")}
    return [t for t in trials if id(t) in keep]


def load_task_data(card: Card, root: Path, *, requested: list[str] | None, limit: int | None, seed: int = 0,
                   train_folder: str | None = None) -> TaskData:
    """Utterances and trials for every split role of `card`, over the selected languages.

    `train_folder`: training utterances come from that folder instead of the train split
    (kathbath layout; IndicSUPERB LID trains on `chunk_data/`).
    """
    languages = select_languages(card.languages, requested)
    roles = card.splits.roles()
    verification = card.task == "speaker-verification"
    data = TaskData()
    corpus: KathbathCorpus | ManifestCorpus
    if layout_of(card).name == "kathbath":
        corpus = KathbathCorpus(root)
        for role, spec in roles.items():
            if card.task == "keyword-spotting":
                data.utterances[role] = corpus.keywords(spec.name)
            elif verification and role != "train":
                data.trials[role] = [t for key in languages for t in corpus.trials(key, spec.name)]
            elif role == "train" and train_folder:
                data.utterances[role] = [u for key in languages for u in corpus.folder_utterances(key, train_folder)]
            else:
                data.utterances[role] = [u for key in languages for u in corpus.utterances(key, spec.name)]
    else:
        corpus = ManifestCorpus(root, card)
        for role, spec in roles.items():
            if verification and role != "train":
                data.trials[role] = corpus.trials(spec.name)
            else:
                data.utterances[role] = corpus.utterances(spec.name)
    _restrict(data, languages, card)
    for role in list(data.utterances):
        by_lang: dict = {}
        for u in data.utterances[role]:
            by_lang.setdefault(u.language, []).append(u)
        data.utterances[role] = [u for lang, items in by_lang.items() for u in _sample(items, limit, seed, f"{roles[role].name}-{lang}")]
    for role in list(data.trials):
        by_lang = {}
        for t in data.trials[role]:
            by_lang.setdefault(t.enroll.language, []).append(t)
        data.trials[role] = [t for lang, items in by_lang.items() for t in _sample_trials(items, limit, seed, f"{roles[role].name}-{lang}")]
    return data


def _restrict(data: TaskData, languages: list[str], card: Card) -> None:
    """Keep selected languages that have train data and something to score; record the rest as missing."""
    scored = card.splits.scored_roles()

    def langs(role: str) -> set:
        if role in data.trials:
            return {t.enroll.language for t in data.trials[role]}
        return {u.language for u in data.utterances.get(role, [])}

    train = langs("train")
    evaluated = set().union(*(langs(r) for r in scored)) if scored else set()
    needs = f"train data and data to score ({', '.join(scored)})"
    if (train | evaluated) == {None}:
        # The corpus names no languages (e.g. a flat ks/ tree): everything is pooled.
        if None not in train or None not in evaluated:
            raise UserError(f"card '{card.name}': no {needs} found")
        data.present, data.missing = [], []
        data.note = "the data carries no language information; all of it is pooled"
        return
    present = [k for k in languages if k in train and k in evaluated]
    data.present = present
    data.missing = [k for k in languages if k not in present]
    if not present:
        raise UserError(f"card '{card.name}': none of the languages {', '.join(languages)} has both {needs}")
    keep = set(present)
    for role in data.utterances:
        data.utterances[role] = [u for u in data.utterances[role] if u.language in keep]
    for role in data.trials:
        data.trials[role] = [t for t in data.trials[role] if t.enroll.language in keep]
