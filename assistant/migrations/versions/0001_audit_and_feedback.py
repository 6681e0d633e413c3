"""The audit and feedback tables, and the adoption of databases created before Alembic.

An empty database gets both tables. A database made by an earlier version of the store (an SQLite file with
these tables but no ``alembic_version``) is upgraded in place: the columns that version lacked are added, its
rows keep NULL there, and nothing is dropped. The columns are written out here rather than taken from
``assistant.database``, so this revision stays what it was when later revisions change the tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _answers() -> list[sa.Column]:
    return [
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("time", sa.Text, nullable=False),
        sa.Column("answer_id", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("corpus_version", sa.Text, nullable=False),
        sa.Column("rule_ids", sa.Text, nullable=False),
        sa.Column("quotes", sa.Text, nullable=False),
        sa.Column("abstained", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("question", sa.Text),
        sa.Column("rules_version", sa.Text),
        sa.Column("rules", sa.Text),
        sa.Column("generator", sa.Text),
        sa.Column("model", sa.Text),
        sa.Column("shown_sha256", sa.Text),
        sa.Column("shown", sa.Text),
        sa.Column("withheld", sa.Text),
        sa.Column("generated_sha256", sa.Text),
        sa.Column("user", sa.Text),
    ]


def _feedback() -> list[sa.Column | sa.CheckConstraint]:
    return [
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("time", sa.Text, nullable=False),
        sa.Column("answer_id", sa.Text, nullable=False),
        sa.Column("rating", sa.Text, nullable=False),
        sa.Column("rule_ids", sa.Text, nullable=False),
        sa.Column("quotes", sa.Text, nullable=False),
        sa.Column("corpus_version", sa.Text, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("question", sa.Text),
        sa.Column("user", sa.Text),
        sa.CheckConstraint("rating IN ('up', 'down')", name="feedback_rating"),
    ]


_INDEXES = {
    "answers": [("answers_answer_id", "answer_id"), ("answers_time", "time")],
    "feedback": [("feedback_time", "time")],
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    for table, items in (("answers", _answers()), ("feedback", _feedback())):
        if table not in tables:
            op.create_table(table, *items)
        else:  # made before Alembic: add what that version lacked (only nullable columns were ever added)
            present = {column["name"] for column in inspector.get_columns(table)}
            for column in items:
                if isinstance(column, sa.Column) and column.name not in present:
                    op.add_column(table, column)
        for name, column in _INDEXES[table]:
            op.create_index(name, table, [column], if_not_exists=True)


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("answers")
