"""Run configs (`bench run --config run.yaml`) and `-o protocol.<field>=<value>` overrides.

A run config names a whole grid — suites, tasks, models, seeds, protocol settings — in a file
whose schema is as strict as the cards': unknown keys are errors, the YAML loader rejects
duplicate keys, and every problem is reported as `file:line: field: message`. Command-line
flags that are given replace the file's values; `-o` overrides are layered on top of the
file's `overrides`. Any override that differs from a card's own setting makes its units "not
comparable" (`polyglue.runs.comparability.assess` lists each one), and every setting is
hashed into the unit key, so overridden units never mix with the official ones.

```yaml
suites: [glue]
models: [bow, "mbert=hf:bert-base-multilingual-cased"]
tasks: [rte, mrpc]          # default: every card of each suite
protocol: finetune
seeds: 3
data_seeds: [0, 1]          # optional: data-order seeds crossed with the seeds (Dodge et al. 2020)
data_dir: ./data            # relative to this file
overrides:
  protocol.learning_rate: 3.0e-5
```
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from polyglue.cards.schema import ProtocolDefaults
from polyglue.errors import UserError

#: Settings `-o` may change: every field of a card's `protocol` block except the protocol choice.
OVERRIDABLE = tuple(name for name in ProtocolDefaults.model_fields if name != "default")


def _check_override_key(key: str) -> str:
    section, _, name = key.partition(".")
    if section != "protocol" or name not in OVERRIDABLE:
        raise ValueError(f"'{key}' is not an overridable setting; use protocol.<field> with a field among {', '.join(OVERRIDABLE)}")
    return name


def check_overrides(values: dict) -> dict:
    """`{"protocol.<field>": value}` -> `{field: value}`, each value validated as the card schema would."""
    out = {}
    for key, value in values.items():
        name = _check_override_key(key)
        try:
            checked = ProtocolDefaults.model_validate({name: value})
        except ValidationError as exc:
            raise ValueError(f"{key}={value!r}: {exc.errors()[0]['msg']}") from None
        out[name] = getattr(checked, name)
    return out


class RunConfig(BaseModel):
    """A `bench run --config` file."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    suites: list[str] = Field(min_length=1)
    models: list[str] = Field(min_length=1)
    """Encoder specs as `--model` takes them (`label=spec` names the row)."""
    tasks: list[str] | None = None
    """Card names; each suite runs the ones it has (default: all of its cards)."""
    protocol: str | None = None
    seeds: int = Field(1, ge=1)
    data_seeds: list[int] | None = Field(None, min_length=1)
    """Data-order seeds (batch order, dropout) crossed with `seeds`, which then set only the
    initialisation; as `--data-seeds`. Absent: data order follows each unit's seed."""
    data_dir: str | None = None
    """Relative paths are relative to the config file."""
    runs_dir: str | None = None
    allow_unverified_data: bool = False
    """Read pinned cards' `data_dir` folders that have no `manifest.json` (rows marked not comparable); as `--allow-unverified-data`."""
    limit: int | None = Field(None, ge=1)
    max_steps: int | None = Field(None, ge=1)
    languages: list[str] | None = None
    overrides: dict[str, bool | int | float | str | list[float] | None] = Field(default_factory=dict)
    """`protocol.<field>: value` layered over every card's protocol settings."""

    @field_validator("data_seeds")
    @classmethod
    def _data_seeds(cls, values):
        if values is not None and (any(v < 0 for v in values) or len(set(values)) != len(values)):
            raise ValueError("give distinct non-negative integers, e.g. [0, 1, 2]")
        return values

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, values):
        check_overrides(values)
        return values


def load_config(path: Path) -> RunConfig:
    """A validated run config; any problem is a `UserError` naming `file:line`."""
    from polyglue.cards.problems import display_path, from_validation_error
    from polyglue.cards.yamlio import YamlSyntaxError, read_yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"--config {path}: no such file")
    try:
        doc = read_yaml(path)
    except YamlSyntaxError as exc:
        raise UserError(f"{display_path(path)}:{exc.line}: {exc.message}") from None
    if not isinstance(doc.data, dict):
        raise UserError(f"{display_path(path)}:1: a run config is a mapping (suites, models, ...)")
    try:
        return RunConfig.model_validate(doc.data)
    except ValidationError as exc:
        problems = from_validation_error(exc, doc, RunConfig)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UserError(f"{problems[0].render()}{more}") from None


def parse_cli_overrides(values: list[str] | None) -> dict:
    """`-o protocol.learning_rate=3e-5` (repeatable) -> `{"protocol.learning_rate": 3e-05}`; values read as YAML scalars."""
    from polyglue.cards.yamlio import YamlSyntaxError, parse_yaml

    out = {}
    for value in values or []:
        key, sep, raw = value.partition("=")
        if not sep or not key.strip():
            raise UserError(f"-o {value}: write protocol.<field>=<value>, e.g. -o protocol.learning_rate=3e-5")
        try:
            parsed = parse_yaml(raw, Path("-o")).data
        except YamlSyntaxError as exc:
            raise UserError(f"-o {value}: {exc.message}") from None
        out[key.strip()] = parsed
    try:
        check_overrides(out)
    except ValueError as exc:
        raise UserError(f"-o {exc}") from None
    return out
