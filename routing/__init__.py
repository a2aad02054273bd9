"""Pure routing domain: contacts, decisions, sentiment, waves and policy (no I/O)."""
