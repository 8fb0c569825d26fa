"""months in Norway at intake; a routed placement's literacy step and reading branch

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('months_in_norway', sa.Integer(), nullable=True))
    with op.batch_alter_table('estimate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('literacy_step', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('reader', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('estimate', schema=None) as batch_op:
        batch_op.drop_column('reader')
        batch_op.drop_column('literacy_step')
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_column('months_in_norway')
