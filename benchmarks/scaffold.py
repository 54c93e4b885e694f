"""`bench add-language`: write a new suite, one card stub per task type, a language kit and a checklist.

Stubs carry every required field. What only the author can know (dataset id, revision,
columns, labels, licence, citation) is a `TODO: ...` value, which `bench validate` reports
as `fill in ...` (see `polyglue.cards.todo`), so a stub cannot run until it is complete.
Files go under `--to` (default `./cards`): in a clone that is the built-in `cards/`
package, in an installed polyglue a card directory of the user's own; the language kit
goes to `<to>/langkits/<iso639-3>.py`, where `polyglue.langkits.registry` finds it in both cases.
Pure Python: no torch, transformers or datasets.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from polyglue.cards import vocab
from polyglue.cards.problems import display_path
from polyglue.cards.schema import NAME_PATTERN
from polyglue.errors import UserError

DEFAULT_TASKS = ("single-classification", "pair-classification", "token-classification")

#: Per task type: (column TODO hint, role) rows of `fields`, metrics, main metric, whether labels are listed.
_ID = ("id column name, or delete this line", "id")
TASK_STUBS: dict[str, dict] = {
    "single-classification": {
        "fields": [_ID, ("text column name", "text"), ("label column name", "label")],
        "metrics": ["accuracy", "macro_f1"],
    },
    "pair-classification": {
        "fields": [_ID, ("first-text column name", "text"), ("second-text column name", "text_pair"), ("label column name", "label")],
        "metrics": ["accuracy", "macro_f1"],
    },
    "regression": {
        "fields": [_ID, ("first-text column name", "text"), ("second-text column name, or delete this line for one text", "text_pair"), ("score column name", "label")],
        "metrics": ["pearson", "spearman", "pearson_spearman_mean"],
    },
    "token-classification": {
        "fields": [_ID, ("tokens column name (a list of tokens)", "tokens"), ("tags column name (one tag per token)", "tags")],
        "metrics": ["seqeval_f1", "token_accuracy"],
    },
    "extractive-qa": {
        "fields": [_ID, ("context column name", "context"), ("question column name", "question"), ("answers column name ({text: [...], answer_start: [...]})", "answers")],
        "metrics": ["squad_em", "squad_f1"],
        "main": "squad_f1",
    },
    "multiple-choice": {
        "fields": [_ID, ("question column name, or delete this line", "question"), ("choices column name (a list)", "choices"), ("answer column name (index or text of the right choice)", "answer")],
        "metrics": ["accuracy"],
    },
    "keyword-spotting": {"fields": [("audio path column name", "audio"), ("keyword column name", "label")], "metrics": ["accuracy"]},
    "language-id": {"fields": [("audio path column name", "audio"), ("language column name", "label")], "metrics": ["accuracy"]},
    "speaker-id": {"fields": [("audio path column name", "audio"), ("speaker column name", "speaker")], "metrics": ["accuracy"]},
    "asr": {"fields": [("audio path column name", "audio"), ("transcript column name", "transcript")], "metrics": ["wer", "cer"]},
}
#: Task types whose data are trial lists or query/document sets, not rows: no generic stub.
NO_STUB = {
    "speaker-verification": "needs trial lists (label, utterance, utterance)",
    "query-by-example": "needs queries, documents and a ground-truth table",
}


@dataclass(frozen=True)
class Language:
    """A language as cards write it: ISO 639-3, optionally with an ISO 15924 script."""

    alpha_3: str
    name: str
    script: str | None = None
    note: str | None = None

    @property
    def code(self) -> str:
        return f"{self.alpha_3}-{self.script}" if self.script else self.alpha_3


def resolve_language(code: str) -> Language:
    """ISO 639-1 (`eu`) or 639-3 (`eus`), optionally `-Script` (`eu-Latn`), to the 639-3 form cards use."""
    import pycountry

    match = re.fullmatch(r"([A-Za-z]{2,3})(?:-([A-Za-z]{4}))?", code.strip())
    if not match:
        raise UserError(f"'{code}' is not a language code; give ISO 639-1 (e.g. eu) or ISO 639-3 (e.g. eus){_name_hint(code)}")
    lang, script = match.group(1).lower(), match.group(2)
    note = None
    found = pycountry.languages.get(alpha_2=lang) if len(lang) == 2 else pycountry.languages.get(alpha_3=lang)
    if found is None and len(lang) == 3:
        found = pycountry.languages.get(bibliographic=lang)
        if found is not None:
            note = f"'{lang}' is the ISO 639-2/B code; cards use the ISO 639-3 code '{found.alpha_3}'"
    if found is None:
        kind = "ISO 639-1" if len(lang) == 2 else "ISO 639-3"
        raise UserError(f"'{lang}' is not an {kind} language code{_name_hint(code)}")
    if script is not None:
        script = script.title()
        if pycountry.scripts.get(alpha_4=script) is None:
            raise UserError(f"'{script}' is not an ISO 15924 script code (e.g. Latn, Cyrl, Grek, Hans)")
    return Language(found.alpha_3, found.name, script, note)


def _name_hint(text: str) -> str:
    import pycountry

    try:
        lang = pycountry.languages.lookup(text.strip())
    except LookupError:
        return ""
    return f"; did you mean '{lang.alpha_3}' ({lang.name})?"


def parse_tasks(spec: str | None, suite: str) -> list[tuple[str, str]]:
    """`--tasks` -> [(card name, task type)]. Items are `TYPE` or `NAME=TYPE`; card names get the suite prefix."""
    items = [t.strip() for t in (spec.split(",") if spec else DEFAULT_TASKS) if t.strip()]
    if not items:
        raise UserError("--tasks is empty; give task types such as pair-classification,token-classification")
    out: list[tuple[str, str]] = []
    for item in items:
        name, _, task = item.rpartition("=")
        name = name or task
        if task in NO_STUB:
            raise UserError(f"--tasks {task}: {NO_STUB[task]}; copy a {task} card of the indicsuperb suite instead")
        if task not in TASK_STUBS:
            allowed = ", ".join(TASK_STUBS)
            raise UserError(f"--tasks: '{task}' is not a task type (allowed: {allowed}){_close(task, TASK_STUBS)}")
        card = f"{suite}-{name}"
        if not re.match(NAME_PATTERN, card):
            raise UserError(f"--tasks: card name '{card}' must be lower-case letters, digits, '-' or '_'")
        if card in (c for c, _ in out):
            raise UserError(f"--tasks: two cards would be named '{card}'; name them, e.g. nli={task},paws={task}")
        out.append((card, task))
    return out


def _close(value: str, options) -> str:
    import difflib

    close = difflib.get_close_matches(value, list(options), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


# ----------------------------------------------------------------------------- rendering


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def render_card(name: str, task: str, lang: Language, kit: str, command: str) -> str:
    stub = TASK_STUBS[task]
    modality = vocab.TASK_MODALITY[task]
    main = stub.get("main", stub["metrics"][-1] if task == "regression" else stub["metrics"][0])
    lines = [
        f"# Card stub written by `{command}`.",
        "# Replace every value that starts with TODO; `bench validate` lists what is left.",
        "# Every field is described by `bench schema card` and in CONTRIBUTING.md.",
        f"name: {name}",
        "version: 1.0.0",
        f"title: {_q(f'TODO: a short title, e.g. the dataset name ({lang.name} {task})')}",
        f"languages: [{lang.code}]",
        f"modality: {modality}",
        f"task: {task}",
        "source:",
        "  hub:",
        f"    path: {_q('TODO: the dataset on the Hugging Face Hub, namespace/name')}",
        "    config: null  # the dataset configuration (subset), when the repository has several",
        f"    revision: {_q('TODO: the 40-hex commit SHA you evaluate (Hub: Files and versions, History); delete the line to leave it unpinned')}",
        "  # Data next to this card instead of the Hub (paths relative to this file):",
        "  # local: {format: jsonl, files: {train: data/train.jsonl, validation: data/dev.jsonl, test: data/test.jsonl}}",
        "splits:  # role: split name in the source; a test split without public labels is {name: test, labels: hidden}",
        "  train: train",
        "  validation: validation",
        "  test: test",
        "fields:  # source column: role",
    ]
    lines += [f"  {_q('TODO: ' + hint)}: {role}" for hint, role in stub["fields"]]
    if task in vocab.LABELLED_TASKS:
        lines.append(f"labels: [{_q('TODO: the label names, in the order of the source label indices')}]")
    lines += [
        f"metrics: [{', '.join(stub['metrics'])}]",
        f"main_metric: {main}  # the metric the benchmark's authors report",
        f"langkit: {kit}",
        f"license: {_q('TODO: the licence id after checking the source (bench schema card lists them), or other:<url>')}",
        f"citation: {_q('TODO: the dataset paper, as BibTeX or a full reference')}",
        f"reference: {_q('TODO: URL of the dataset or paper')}",
    ]
    return "\n".join(lines) + "\n"


def render_suite(suite: str, cards: list[str], lang: Language, command: str) -> str:
    lines = [
        f"# Suite stub written by `{command}`.",
        "# Replace every value that starts with TODO; `bench validate` lists what is left.",
        f"name: {suite}",
        "version: 0.1.0",
        f"title: {_q(f'TODO: the benchmark name as its authors write it ({lang.name})')}",
        "cards:",
        *[f"  - {c}" for c in cards],
        "aggregate:",
        f"  name: {suite} score",
        "  definition: polyglue  # `official` when the benchmark's authors define the score (then list components)",
        "  # components: [{card: NAME, metrics: [...], splits: [...]}]  (default: every card's main metric)",
        "references: []  # published rows, shown beside yours with deltas:",
        "#  - model: the published model",
        "#    source: paper, Table N",
        "#    split: test",
        f"#    scores: {{{cards[0]}: 71.2}}  # display units (percent)",
        f"citation: {_q('TODO: the benchmark paper as BibTeX or a full reference; delete the line if there is none')}",
    ]
    return "\n".join(lines) + "\n"


def render_kit(lang: Language, kit: str) -> str:
    return f'''"""Language kit '{kit}' for {lang.name}, used by cards that say `langkit: {kit}`.

Written by `bench add-language`. polyglue finds it because it sits in a `langkits/` folder
next to the card folders (see CONTRIBUTING.md, "Language kits"); its name is the file name.
Until you change it, it behaves like the default kit except that no articles are dropped.
Review, against what the benchmark's published baselines did:
- `normalize`: what encoders should see (Unicode NFC by default; lower-casing or accent
  stripping only when the published models were trained that way);
- `articles`: the words SQuAD-style QA scoring removes from answers ({lang.name} articles,
  if the language has free-standing ones); used only by extractive-qa cards.
"""

from polyglue.langkits.kits import LangKit


class Kit(LangKit):
    """{lang.name}: default normalisation; QA answers keep every word."""

    name = "{kit}"
    articles: tuple[str, ...] = ()
'''


def render_checklist(suite: str, lang: Language, cards: list[str], kit_path: str, to: str) -> str:
    opts = f"--cards {to}"
    return f"""# {suite}: contribution checklist ({lang.name}, {lang.code})

Tick each box in your pull request description. CONTRIBUTING.md walks through every step.

- [ ] Every TODO is filled in: `bench validate {to}/{suite}` reports no error.
- [ ] Licence checked at the source (dataset card, paper, repository) and written in each card's
      `license`; restrictions on redistribution or mirrors noted in `notes`.
- [ ] Revision pinned: `source.hub.revision` is the 40-hex commit you evaluated
      (`bench fetch` records the resolved commit in the mirror's manifest.json).
- [ ] Data looked at: `bench validate --check-data {to}/{suite}` (missing columns, labels
      outside the list, duplicates, train/test overlap, empty texts) — fix or explain in `notes`.
- [ ] Language kit reviewed: `{kit_path}` (normalisation, QA articles).
- [ ] Baseline rows: `bench run {opts} --suite {suite} --model bow --model hf:<a small public model>`
      then `bench report {opts} --suite {suite}`; paste the table in the pull request.
- [ ] A published number reproduced where one exists: add it to `references` in
      `{to}/{suite}/suite.yaml` with its source, and compare with your run of the same model.
- [ ] Cards: {', '.join(cards)}.
"""


# ----------------------------------------------------------------------------- writing


@dataclass
class ScaffoldResult:
    """What `add_language` wrote (paths) and decided (kit reused or written)."""

    suite_dir: Path
    written: list[Path] = field(default_factory=list)
    kit: str = ""
    kit_note: str = ""
    language: Language | None = None
    next_steps: list[str] = field(default_factory=list)


def add_language(code: str, suite: str, tasks: str | None = None, to: Path = Path("cards")) -> ScaffoldResult:
    """Write `<to>/<suite>/` (suite, card stubs, checklist) and the kit; refuse to overwrite anything."""
    from polyglue.cards.registry import Registry
    from polyglue.cards.kitnames import KITS, USER_KIT_DIR

    lang = resolve_language(code)
    if not re.match(NAME_PATTERN, suite):
        raise UserError(f"--suite '{suite}': use lower-case letters, digits, '-' or '_' (e.g. basqueglue)")
    cards = parse_tasks(tasks, suite)
    to = Path(to)
    suite_dir = to / suite
    if suite_dir.exists():
        raise UserError(f"{display_path(suite_dir)} already exists; refusing to overwrite (pick another --suite or remove it)")
    if to.exists() and not to.is_dir():
        raise UserError(f"--to {to} is a file, not a card directory")
    names = Registry.discover([to] if to.is_dir() else []).declared  # stubs that do not load yet count too
    if suite in names:
        raise UserError(f"the name '{suite}' is already used in {display_path(min(names[suite]))}; pick another --suite")
    taken = [f"'{c}' ({display_path(min(names[c]))})" for c, _ in cards if c in names]
    if taken:
        raise UserError(f"card name(s) already used: {', '.join(taken)}; name the cards with --tasks NAME=TYPE")

    command = f"bench add-language {code} --suite {suite}" + (f" --tasks {tasks}" if tasks else "")
    result = ScaffoldResult(suite_dir=suite_dir, language=lang)
    kit_file = to / USER_KIT_DIR / f"{lang.alpha_3}.py"
    result.kit = lang.alpha_3
    if lang.alpha_3 in KITS:
        result.kit_note = f"uses the built-in language kit '{lang.alpha_3}' ({KITS[lang.alpha_3]})"
    elif kit_file.exists():
        result.kit_note = f"uses the existing language kit {display_path(kit_file)}"
    else:
        kit_file.parent.mkdir(parents=True, exist_ok=True)
        _write(kit_file, render_kit(lang, lang.alpha_3), result)
        result.kit_note = f"language kit '{lang.alpha_3}' stub: {display_path(kit_file)}"

    suite_dir.mkdir(parents=True)
    _write(suite_dir / "suite.yaml", render_suite(suite, [c for c, _ in cards], lang, command), result)
    for name, task in cards:
        _write(suite_dir / f"{name}.yaml", render_card(name, task, lang, result.kit, command), result)
    shown_to = display_path(to)
    kit_shown = display_path(kit_file) if lang.alpha_3 not in KITS else KITS[lang.alpha_3]
    _write(suite_dir / "CHECKLIST.md", render_checklist(suite, lang, [c for c, _ in cards], kit_shown, shown_to), result)
    opts = f"--cards {shown_to}"
    result.next_steps = [
        f"fill in every TODO, until `bench validate {shown_to}/{suite}` passes",
        f"look at the data: `bench validate --check-data {shown_to}/{suite}`",
        f"baselines: `bench run {opts} --suite {suite} --model bow --model hf:<a small public model>`, then `bench report {opts} --suite {suite}`",
        f"work through {display_path(suite_dir / 'CHECKLIST.md')} and open a pull request",
    ]
    return result


def _write(path: Path, text: str, result: ScaffoldResult) -> None:
    with open(path, "x", encoding="utf-8") as fh:  # "x": never overwrite, even in a race
        fh.write(text)
    result.written.append(path)
