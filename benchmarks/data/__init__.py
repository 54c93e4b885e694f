"""Data materialisation: card split roles -> Arrow tables, label resolution, mirrors."""
