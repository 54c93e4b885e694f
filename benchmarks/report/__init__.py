"""Leaderboards and aggregates from the results store."""
