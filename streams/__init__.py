"""Faust application, topics, codecs, agents, web views and the wavebreak command line."""
