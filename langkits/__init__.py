"""Text side of polyglue: language kits, text encoders and text protocols.

Importing this package is cheap (no torch): the validator reads `polyglue.langkits.registry`.
"""
