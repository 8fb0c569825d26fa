"""speaking and writing: rated answers (recordings, texts), ratings,
co-raters of a cohort; the tasks of a test; a level per skill with each result

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-05 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('test_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tasks', sa.JSON(), nullable=True))
    with op.batch_alter_table('estimate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skills', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('rated_pending', sa.Integer(), nullable=False,
                                      server_default='0'))
    op.create_table(
        'rated_answer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.String(length=40), nullable=False),
        sa.Column('skill', sa.String(length=16), nullable=False),
        sa.Column('text', sa.Text(), nullable=True),
        sa.Column('audio', sa.LargeBinary(), nullable=True),
        sa.Column('audio_format', sa.String(length=8), nullable=True),
        sa.Column('audio_sha256', sa.String(length=64), nullable=True),
        sa.Column('audio_bytes', sa.Integer(), nullable=True),
        sa.Column('seconds', sa.Float(), nullable=True),
        sa.Column('skipped', sa.Boolean(), nullable=False),
        sa.Column('raters_needed', sa.Integer(), nullable=False),
        sa.Column('score', sa.Float(), nullable=True),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('media_deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['session_id'], ['test_session.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('session_id', 'item_id'),
    )
    op.create_index(op.f('ix_rated_answer_session_id'), 'rated_answer', ['session_id'])
    op.create_table(
        'rating',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('answer_id', sa.Integer(), nullable=False),
        sa.Column('teacher_id', sa.Integer(), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['answer_id'], ['rated_answer.id']),
        sa.ForeignKeyConstraint(['teacher_id'], ['teacher.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('answer_id', 'round'),
        sa.UniqueConstraint('answer_id', 'teacher_id'),
    )
    op.create_index(op.f('ix_rating_answer_id'), 'rating', ['answer_id'])
    op.create_table(
        'cohort_rater',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('cohort_id', sa.Integer(), nullable=False),
        sa.Column('teacher_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['cohort_id'], ['cohort.id']),
        sa.ForeignKeyConstraint(['teacher_id'], ['teacher.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('cohort_id', 'teacher_id'),
    )
    op.create_index(op.f('ix_cohort_rater_cohort_id'), 'cohort_rater', ['cohort_id'])


def downgrade() -> None:
    for table in ('cohort_rater', 'rating', 'rated_answer'):
        op.drop_table(table)
    with op.batch_alter_table('estimate', schema=None) as batch_op:
        batch_op.drop_column('rated_pending')
        batch_op.drop_column('skills')
    with op.batch_alter_table('test_session', schema=None) as batch_op:
        batch_op.drop_column('tasks')
