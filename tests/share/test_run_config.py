"""`bench run --config run.yaml` and `-o protocol.<field>=<value>`: strict files, layered flags, comparability."""

from __future__ import annotations

import json

from tests.fixtures.core_suite import write_suite


def _config(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_given_a_config_with_overrides_then_flags_layer_on_top_and_units_are_not_comparable(cli, tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=1)
    config = _config(tmp_path / "run.yaml", "suites: [core]\nmodels: [bow]\ntasks: [core-sent0]\nseeds: 2\nruns_dir: out\n"
                                            "overrides:\n  protocol.max_length: 64\n  protocol.batch_size: 8\n")
    result = cli("run", "--config", config, "--cards", cards, "--quiet", "-o", "protocol.max_length=32")
    assert result.code == 0, result.err
    doc = json.loads((tmp_path / "out" / "results.json").read_text())  # runs_dir is relative to the config file
    assert [u["seed"] for u in doc["units"]] == [0, 1] and {u["card"] for u in doc["units"]} == {"core-sent0"}
    unit = doc["units"][0]
    assert unit["settings"]["max_length"] == 32 and unit["settings"]["batch_size"] == 8  # -o wins over the file
    assert unit["comparability"]["comparable"] is False and unit["comparability"]["debug"] is False
    assert unit["comparability"]["reasons"] == [
        "protocol.max_length=32 overrides the card's 128", "protocol.batch_size=8 overrides the card's 32"]

    plain = cli("run", "--suite", "core", "--cards", cards, "--model", "bow", "--tasks", "core-sent0", "--runs-dir", tmp_path / "out", "--quiet")
    assert plain.code == 0 and "1 unit(s): 1 run, 0 reused" in plain.err  # the official unit is another unit
    report = cli("report", "--suite", "core", "--cards", cards, "--runs-dir", tmp_path / "out", "--format", "latex")
    # seed 0 now shows the newer official unit, seed 1 still the overridden one: the row says so
    assert "bow$^\\dagger$ &" in report.out


def test_given_data_seeds_in_a_config_then_the_grid_crosses_them_with_the_seeds_and_the_flag_replaces_them(cli, tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=1)
    config = _config(tmp_path / "run.yaml", "suites: [core]\nmodels: [bow]\ntasks: [core-sent0]\nseeds: 2\ndata_seeds: [3, 7]\nruns_dir: out\n")
    result = cli("run", "--config", config, "--cards", cards, "--quiet")
    assert result.code == 0, result.err
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert sorted((u["seed"], u["settings"]["data_seed"]) for u in doc["units"]) == [(0, 3), (0, 7), (1, 3), (1, 7)]
    flag = cli("run", "--config", config, "--cards", cards, "--quiet", "--data-seeds", "7", "--runs-dir", tmp_path / "flag")
    assert flag.code == 0, flag.err
    doc = json.loads((tmp_path / "flag" / "results.json").read_text())
    assert sorted((u["seed"], u["settings"]["data_seed"]) for u in doc["units"]) == [(0, 7), (1, 7)]


def test_given_a_bad_run_config_then_file_line_field_and_exit_2(cli, tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=1)
    cases = {
        "suites: [core]\nmodels: [bow]\nseed: 3\n": ("run.yaml:3", "seed"),
        "suites: [core]\nmodels: [bow]\nseeds: 0\n": ("run.yaml:3", "seeds"),
        "suites: [core]\nmodels: [bow]\noverrides:\n  protocol.lr: 1.0\n": ("run.yaml:3", "'protocol.lr' is not an overridable setting"),
        "suites: [core]\nmodels: [bow]\nmodels: [bow]\n": ("run.yaml:3", "duplicate key 'models'"),
        "suites: [core]\nmodels: [bow]\ndata_seeds: [1, 1]\n": ("run.yaml:3", "data_seeds"),
        "suites: [core]\nmodels: [bow]\ndata_seeds: [-1]\n": ("run.yaml:3", "distinct non-negative"),
    }
    for text, (where, words) in cases.items():
        result = cli("run", "--config", _config(tmp_path / "run.yaml", text), "--cards", cards, "--runs-dir", tmp_path / "r")
        assert result.code == 2 and "Traceback" not in result.err, (text, result.err)
        assert where in result.err and words in result.err, (text, result.err)


def test_given_a_bad_override_flag_then_one_line_and_exit_2(cli, tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=1)
    base = ("run", "--suite", "core", "--cards", cards, "--model", "bow", "--runs-dir", tmp_path / "r")
    wrong_key = cli(*base, "-o", "learning_rate=3e-5")
    assert wrong_key.code == 2 and "'learning_rate' is not an overridable setting; use protocol.<field>" in wrong_key.err
    wrong_value = cli(*base, "-o", "protocol.batch_size=0")
    assert wrong_value.code == 2 and "protocol.batch_size=0" in wrong_value.err
    no_equals = cli(*base, "-o", "protocol.batch_size")
    assert no_equals.code == 2 and "write protocol.<field>=<value>" in no_equals.err
