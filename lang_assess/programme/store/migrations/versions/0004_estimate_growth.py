"""each estimate keeps its test's prior and the learner's trend (growth, SD, covariance)

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
        batch_op.add_column(sa.Column('prior_mean', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('prior_sd', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('growth', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('growth_se', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('growth_cov', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('estimate', schema=None) as batch_op:
        batch_op.drop_column('growth_cov')
        batch_op.drop_column('growth_se')
        batch_op.drop_column('growth')
        batch_op.drop_column('prior_sd')
        batch_op.drop_column('prior_mean')
