"""Units, planning, execution backends, the results store and progress."""
