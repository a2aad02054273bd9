"""Subcommands of the `wavebreak` command line, one module each with `configure` and `run`."""
