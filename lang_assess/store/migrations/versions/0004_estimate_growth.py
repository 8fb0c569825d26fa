"""each estimate keeps the learner's trend: growth, its SD, level-growth covariance

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 01:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('estimate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('growth', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('growth_se', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('growth_cov', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('estimate', schema=None) as batch_op:
        batch_op.drop_column('growth_cov')
        batch_op.drop_column('growth_se')
        batch_op.drop_column('growth')
