"""Speech side of polyglue (IndicSUPERB): audio IO, upstreams, feature cache, heads."""
