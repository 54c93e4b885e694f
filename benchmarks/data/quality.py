"""`bench validate --check-data`: load a sample of every split and report data problems, MTEB-style.

Errors are what would make a run fail or score wrongly: a column the card names is
missing, a label outside the card's list, tokens and tags of different lengths, audio
that cannot be read. Warnings are what a person must look at: repeated inputs within a
split, evaluation inputs that also occur in train, empty or very short texts, audio
durations far from the rest. Counts are over the sample and say so.

A split is read from the mirror under `--data-dir` when there is one, from local files,
or else streamed from the Hub (only the first `sample` rows are downloaded). Cards that
read a named layout (Kathbath) are skipped with a note: the speech runner reads those.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Literal
from pathlib import Path

import numpy as np
import pyarrow as pa

from polyglue.cards.problems import Problem, display_path
from polyglue.cards.registry import CardEntry
from polyglue.errors import UserError

SAMPLE_ROWS = 1000
#: Texts with fewer characters (after stripping) are reported as very short.
MIN_TEXT_CHARS = 3
#: Roles whose values are the example's input (duplicates and overlap compare these).
INPUT_ROLES = ("text", "text_pair", "tokens", "context", "question", "choices", "audio")
TEXT_ROLES = ("text", "text_pair", "context", "question")
EXAMPLES = 3


@dataclass
class Sample:
    """Rows of one split role as read for checking."""

    role: str
    table: pa.Table
    origin: str
    label_names: list[str] | None
    hidden: bool
    how: str
    """`first N rows (streamed)` or `N sampled rows`, used in messages."""
    base_dirs: list[Path] = field(default_factory=list)
    """Folders that relative audio paths are resolved against, in order."""


@dataclass
class DataReport:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Checker:
    def __init__(self, entry: CardEntry):
        self.entry, self.card, self.file = entry, entry.card, display_path(entry.path)
        self.report = DataReport()

    def add(self, loc: tuple, message: str, severity: Literal["error", "warning"] = "error") -> None:
        field_name = ".".join(str(p) for p in loc)
        self.report.problems.append(Problem(self.file, self.entry.line(*loc), field_name, message, severity))

    def split_loc(self, role: str) -> tuple:
        return ("splits", "extra_eval", role) if role in self.card.splits.extra_eval else ("splits", role)


def check_card_data(entry: CardEntry, *, suite: str | None, data_dir: Path | None, sample: int = SAMPLE_ROWS) -> DataReport:
    """Every data check for one card; problems point at the card field they concern."""
    chk = _Checker(entry)
    card = entry.card
    if card.source.layout is not None:
        chk.report.notes.append(f"{card.name}: skipped, the '{card.source.layout.name}' layout is read by the speech runner")
        return chk.report
    unreachable = _hub_unreachable(entry, suite, data_dir)
    if unreachable:
        chk.add(("source", "hub", "path"), unreachable)
        return chk.report
    samples: dict[str, Sample] = {}
    for role, spec in card.splits.roles().items():
        try:
            samples[role] = load_sample(entry, role, suite=suite, data_dir=data_dir, sample=sample)
        except UserError as exc:
            chk.add(chk.split_loc(role), f"cannot read split '{spec.name}': {exc}")
    for s in samples.values():
        if _check_columns(chk, s):
            _check_labels(chk, s)
            _check_texts(chk, s)
            _check_tokens(chk, s)
            _check_audio(chk, s)
    keys = {role: _input_keys(card, s) for role, s in samples.items() if _has_columns(card, s)}
    for role, role_keys in keys.items():
        _check_duplicates(chk, samples[role], role_keys)
    if "train" in keys:
        train = set(keys["train"])
        for role, role_keys in keys.items():
            if role != "train":
                _check_overlap(chk, samples[role], role_keys, train, samples["train"])
    return chk.report


# ----------------------------------------------------------------------------- loading


def load_sample(entry: CardEntry, role: str, *, suite: str | None, data_dir: Path | None, sample: int) -> Sample:
    """The split's rows: a fixed random sample from a mirror or local files, or the first rows streamed from the Hub."""
    from polyglue.data.materialize import DataResolver

    card = entry.card
    spec = card.splits.roles()[role]
    limit = sample or None
    resolver = DataResolver(card, entry.path, suite=suite, data_dir=data_dir, limit=limit)
    mirror = resolver.card_data_dir()
    if card.source.hub is None or (mirror is not None and mirror.is_dir()):
        data = resolver.split(role)
        origin_dir = Path(data.origin).parent if Path(data.origin).exists() else entry.path.parent
        how = f"{len(data)} sampled rows" if limit and len(data) >= limit else f"all {len(data)} rows"
        return Sample(role, data.table, data.origin, data.source_label_names, data.hidden_labels, how, [origin_dir, entry.path.parent])
    return _stream_sample(entry, role, spec, sample)


@functools.lru_cache(maxsize=1)
def _offline_reason() -> str | None:
    from polyglue.data.materialize import hub_offline_reason

    return hub_offline_reason()  # one connection attempt per process, not one per card


def _hub_unreachable(entry: CardEntry, suite: str | None, data_dir: Path | None) -> str | None:
    """Why a Hub card without a mirror cannot be sampled, as one message (not one per split)."""
    from polyglue.data.materialize import has_mirror

    hub = entry.card.source.hub
    if hub is None or has_mirror(entry.card.name, suite, data_dir):
        return None
    reason = _offline_reason()
    if reason is None:
        return None
    where = f"{data_dir}/{suite or '<suite>'}/{entry.card.name}/" if data_dir else "a mirror (`bench fetch`, then --data-dir)"
    return f"data not checked: {hub.path} is on the Hub, but {reason}; check {where} instead"


def _stream_sample(entry: CardEntry, role: str, spec, sample: int) -> Sample:
    card, hub = entry.card, entry.card.source.hub
    if hub is None:
        raise UserError(f"card '{card.name}': streaming a sample needs a Hub source (source.hub)")
    import datasets

    try:
        streams = _streamed(hub.path, spec.config or hub.config, hub.revision, json.dumps(hub.data_files, sort_keys=True))
        if spec.name not in streams:
            raise UserError(f"{hub.path} has no split '{spec.name}' (splits: {', '.join(streams)})")
        ds = streams[spec.name]
        features = ds.features or {}
        for column, feature in features.items():
            if isinstance(feature, datasets.Audio):
                ds = ds.cast_column(column, datasets.Audio(decode=False))
        rows = list(ds.take(sample)) if sample else list(ds)
    except UserError:
        raise
    except Exception as exc:  # datasets raises many types; the message is what users need
        raise UserError(f"streaming {hub.path} split '{spec.name}' failed: {exc}") from None
    table = pa.Table.from_pylist(rows) if rows else pa.table({})
    if spec.unlabelled == "drop":  # as `DataResolver.split` does: such rows are never scored
        from polyglue.data.materialize import drop_unlabelled

        table, _ = drop_unlabelled(table, card.role_column("label"))
    label_col = card.role_column("label") or card.role_column("tags")
    names = None
    if label_col and label_col in features:
        feature = features[label_col]
        names = getattr(feature, "names", None) or getattr(getattr(feature, "feature", None), "names", None)
    origin = f"{hub.path}@{hub.revision or 'default branch'}:{spec.name}"
    return Sample(role, table, origin, names, spec.labels == "hidden", f"first {len(rows)} rows (streamed)")


@functools.lru_cache(maxsize=8)
def _streamed(path: str, config: str | None, revision: str | None, data_files_json: str):
    """Every split of a Hub dataset as lazy streams: the repository is resolved once per card, not per split."""
    import datasets

    kwargs = {"data_files": json.loads(data_files_json)} if data_files_json != "null" else {}
    if revision:
        kwargs["revision"] = revision
    return datasets.load_dataset(path, config, streaming=True, **kwargs)


# ----------------------------------------------------------------------------- checks


def _has_columns(card, s: Sample) -> bool:
    return all(c in s.table.column_names for c in card.fields)


def _check_columns(chk: _Checker, s: Sample) -> bool:
    missing = [c for c in chk.card.fields if c not in s.table.column_names]
    for column in missing:
        chk.add(
            ("fields", column),
            f"column '{column}' ({chk.card.fields[column]}) is missing from split '{s.role}' "
            f"({s.origin}; columns: {', '.join(s.table.column_names) or 'none'})",
        )
    return not missing


def _values(s: Sample, column: str) -> list:
    return s.table.column(column).to_pylist()


def _shown(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return repr(text[:60] + ("…" if len(text) > 60 else ""))


def _check_labels(chk: _Checker, s: Sample) -> None:
    from polyglue.data.labels import LabelSpace, encode_regression
    from polyglue.errors import DataError

    card = chk.card
    column = card.role_column("label") or card.role_column("tags")
    if column is None:
        return
    values = _values(s, column)
    if card.role_column("tags") == column:
        values = [v for seq in values if isinstance(seq, list) for v in seq]
    counts: dict = {}
    for v in values:
        counts[json.dumps(v, default=str)] = counts.get(json.dumps(v, default=str), 0) + 1
    bad = []
    for key, n in counts.items():
        value = json.loads(key)
        try:
            if card.task == "regression":
                encode_regression([value], s.origin, allow_hidden=s.hidden)
            elif card.labels is not None:
                LabelSpace(card.labels, s.label_names, card.label_map).encode([value], s.origin, allow_hidden=s.hidden)
        except DataError:
            bad.append((value, n))
    if bad:
        shown = ", ".join(f"{v!r} ({n} row{'s' * (n > 1)})" for v, n in sorted(bad, key=lambda b: -b[1])[:5])
        where = ("labels",) if card.labels is not None else ("fields", column)
        what = "not a number" if card.task == "regression" else f"outside the card's labels [{', '.join(card.labels or [])}]"
        chk.add(where, f"split '{s.role}': {len(bad)} value(s) of '{column}' {what}: {shown}{' …' if len(bad) > 5 else ''} in {s.how}")


def _check_texts(chk: _Checker, s: Sample) -> None:
    for column, role in chk.card.fields.items():
        if role not in TEXT_ROLES:
            continue
        values = _values(s, column)
        empty = [i for i, v in enumerate(values) if v is None or (isinstance(v, str) and not v.strip())]
        short = [i for i, v in enumerate(values) if isinstance(v, str) and 0 < len(v.strip()) < MIN_TEXT_CHARS]
        if empty:
            chk.add(("fields", column), f"split '{s.role}': {len(empty)} empty text(s) in {s.how} (rows {_rows(empty)})", "warning")
        if short:
            chk.add(
                ("fields", column),
                f"split '{s.role}': {len(short)} text(s) shorter than {MIN_TEXT_CHARS} characters in {s.how}, "
                f"e.g. {', '.join(_shown(values[i]) for i in short[:EXAMPLES])}",
                "warning",
            )


def _check_tokens(chk: _Checker, s: Sample) -> None:
    card = chk.card
    tokens_col, tags_col = card.role_column("tokens"), card.role_column("tags")
    if tokens_col is None:
        return
    tokens = _values(s, tokens_col)
    empty = [i for i, t in enumerate(tokens) if not t]
    if empty:
        chk.add(("fields", tokens_col), f"split '{s.role}': {len(empty)} sentence(s) without tokens in {s.how} (rows {_rows(empty)})", "warning")
    if tags_col is not None and not s.hidden:
        tags = _values(s, tags_col)
        uneven = [i for i, (a, b) in enumerate(zip(tokens, tags)) if len(a or []) != len(b or [])]
        if uneven:
            chk.add(("fields", tags_col), f"split '{s.role}': {len(uneven)} row(s) whose tags and tokens differ in length (rows {_rows(uneven)})")


def _rows(indices: list[int]) -> str:
    shown = ", ".join(str(i + 1) for i in indices[:EXAMPLES])
    return shown + (", …" if len(indices) > EXAMPLES else "")


def _input_keys(card, s: Sample) -> list[str]:
    """One comparable key per row: the input columns' values (labels left out)."""
    columns = [c for c, r in card.fields.items() if r in INPUT_ROLES]
    if not columns:
        return []
    cols = [_values(s, c) for c in columns]
    return [json.dumps([_audio_key(v) for v in row], ensure_ascii=False, default=str) for row in zip(*cols)]


def _audio_key(value):
    if isinstance(value, dict) and value.get("bytes") is not None:
        import hashlib

        return hashlib.sha1(value["bytes"]).hexdigest()
    return value


def _check_duplicates(chk: _Checker, s: Sample, keys: list[str]) -> None:
    seen: dict[str, int] = {}
    repeats = []
    for i, k in enumerate(keys):
        if k in seen:
            repeats.append((i, seen[k]))
        else:
            seen[k] = i
    if repeats:
        i, first = repeats[0]
        chk.add(
            chk.split_loc(s.role),
            f"{len(repeats)} of {len(keys)} inputs repeat an earlier one ({100 * len(repeats) / len(keys):.1f}%) in {s.how}; "
            f"e.g. row {i + 1} = row {first + 1}: {_shown(json.loads(keys[i]))}",
            "warning",
        )


def _check_overlap(chk: _Checker, s: Sample, keys: list[str], train: set[str], train_sample: Sample) -> None:
    shared = [k for k in keys if k in train]
    if shared:
        chk.add(
            chk.split_loc(s.role),
            f"{len(shared)} of {len(keys)} '{s.role}' inputs also occur in train ({100 * len(shared) / len(keys):.1f}%; "
            f"{s.how} vs train {train_sample.how}), e.g. {_shown(json.loads(shared[0]))}",
            "warning",
        )


# ----------------------------------------------------------------------------- audio


def _check_audio(chk: _Checker, s: Sample) -> None:
    column = chk.card.role_column("audio")
    if column is None:
        return
    from polyglue.data.audio_checks import AudioError, duration_outliers, duration_s

    durations: list[tuple[int, float]] = []
    unreadable: list[str] = []
    skipped = 0
    for i, value in enumerate(_values(s, column)):
        try:
            seconds = duration_s(value, s.base_dirs)
        except AudioError as exc:
            unreadable.append(f"row {i + 1}: {exc}")
            continue
        if seconds is None:
            skipped += 1
        else:
            durations.append((i, seconds))
    if unreadable:
        chk.add(("fields", column), f"split '{s.role}': {len(unreadable)} audio file(s) cannot be read, e.g. {'; '.join(unreadable[:EXAMPLES])}")
    if skipped:
        chk.report.notes.append(f"{chk.card.name}/{s.role}: {skipped} audio path(s) point into the Hub repository; mirror them (`bench fetch`) to check durations")
    outliers = duration_outliers([d for _, d in durations])
    if outliers:
        median = float(np.median([d for _, d in durations]))
        shown = ", ".join(f"row {durations[j][0] + 1} ({durations[j][1]:.2f} s)" for j in outliers[:EXAMPLES])
        chk.add(
            ("fields", column),
            f"split '{s.role}': {len(outliers)} of {len(durations)} utterances have outlying durations "
            f"(median {median:.2f} s), e.g. {shown}",
            "warning",
        )
