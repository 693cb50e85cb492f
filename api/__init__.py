"""The outside of mediasearch: REST API (FastAPI), web page and the `mediasearch` CLI.

Nothing imports `api`.
"""
