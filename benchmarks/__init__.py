"""polyglue: evaluate text encoders and speech upstreams on language-specific benchmarks.

The Python API is `polyglue.evaluate(suite, models, ...) -> polyglue.Results` (`polyglue.api`);
the `bench` command line is a thin layer over it. Importing this package is cheap on purpose
(no torch, transformers or datasets): `bench list`, `bench validate` and `bench schema` must
stay fast for contributor CI, so the API is imported on first use.
"""

__version__ = "0.1.0"
__all__ = ["Results", "__version__", "evaluate"]


def __getattr__(name: str):
    if name in ("evaluate", "Results"):
        from polyglue import api

        return getattr(api, name)
    raise AttributeError(f"module 'polyglue' has no attribute {name!r}")
