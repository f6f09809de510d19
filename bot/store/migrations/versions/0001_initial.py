"""Initial schema: events, documents, the delivery outbox and per-source poll state.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("ticker", sa.String(32)),
        sa.Column("company", sa.String(300)),
        sa.Column("company_norm", sa.String(300)),
        sa.Column("fiscal_year", sa.Integer),
        sa.Column("fiscal_quarter", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("key", name="uq_events_key"),
    )
    op.create_index("ix_events_ticker_period", "events", ["ticker", "fiscal_year", "fiscal_quarter"])
    op.create_index("ix_events_company_period", "events", ["company_norm", "fiscal_year", "fiscal_quarter"])
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id"), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("source_key", sa.String(2000), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("title", sa.Text),
        sa.Column("form", sa.String(40)),
        sa.Column("ticker", sa.String(32)),
        sa.Column("company", sa.String(300)),
        sa.Column("published_at", sa.DateTime),
        sa.Column("fetched_at", sa.DateTime, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("revision_of", sa.Integer, sa.ForeignKey("documents.id")),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("metrics", sa.Integer, nullable=False),
        sa.Column("guidance", sa.Integer, nullable=False),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.UniqueConstraint("event_id", "content_hash", name="uq_documents_event_content"),
    )
    op.create_index("ix_documents_source_key", "documents", ["source", "source_key"])
    op.create_index("ix_documents_content_hash", "documents", ["content_hash"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id"), nullable=False),
        sa.Column("document_id", sa.Integer, sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("external_id", sa.String(200)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.UniqueConstraint("document_id", "platform", "target", name="uq_deliveries_document_target"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["state", "next_attempt_at"])
    op.create_index("ix_deliveries_event_target", "deliveries", ["event_id", "platform", "target"])
    op.create_table(
        "source_state",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("health", sa.String(20), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_success_at", sa.DateTime),
        sa.Column("last_attempt_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("next_poll_at", sa.DateTime),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_expires_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("source_state")
    op.drop_table("deliveries")
    op.drop_table("documents")
    op.drop_table("events")
