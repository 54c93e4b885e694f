"""Built-in dataset cards and suites, `polyglue.builtin_cards` (YAML data; this file only makes the
folder a package so the cards ship inside the wheel and are found through importlib.resources)."""
