"""Alembic migrations of the audit and feedback database (run by ``assistant.database.migrate``)."""
