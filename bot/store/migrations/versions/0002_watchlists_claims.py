"""Per-channel watchlists (`/earnings watch`) and delivery claims (so two replicas never send one row).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "watchlists",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(300), nullable=False),
        sa.Column("ticker", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("platform", "channel", "ticker", name="uq_watchlists_channel_ticker"),
    )
    op.create_index("ix_watchlists_ticker", "watchlists", ["ticker"])
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("claim_owner", sa.String(200)))
        batch.add_column(sa.Column("claim_expires_at", sa.DateTime))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("claim_expires_at")
        batch.drop_column("claim_owner")
    op.drop_index("ix_watchlists_ticker", table_name="watchlists")
    op.drop_table("watchlists")
