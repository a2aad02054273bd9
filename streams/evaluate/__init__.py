"""Offline evaluation commands (sentiment, waves) that print measured figures."""
