"""The API gateway (``scorpius serve``): REST, WebSocket/SSE streams, keys and roles (docs/api.md).

Everything here takes plain settings (``ApiSettings``); ``flows/commands/serve.py`` builds them from
the configuration. Heavy libraries (FastAPI, SQLAlchemy, argon2) are imported by these modules
only, so ``scorpius --help`` never loads them.
"""
