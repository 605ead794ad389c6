"""Ledger area: events (and post sketches), cases, the case log, early-warning (spike) state.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('posts', sa.Integer(), nullable=False),
    sa.Column('sites', sa.Integer(), nullable=False),
    sa.Column('replies', sa.Integer(), nullable=False),
    sa.Column('topics', sa.JSON(), nullable=False),
    sa.Column('units', sa.JSON(), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=True),
    sa.Column('negative_share', sa.Float(), nullable=False),
    sa.Column('heat', sa.Float(), nullable=False),
    sa.Column('trend', sa.String(length=16), nullable=False),
    sa.Column('trend_detail', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_events_first_seen'), 'events', ['first_seen'], unique=False)
    op.create_index(op.f('ix_events_last_seen'), 'events', ['last_seen'], unique=False)
    op.create_table('spikes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=True),
    sa.Column('topic', sa.String(length=64), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('observed', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Float(), nullable=False),
    sa.Column('p_value', sa.Float(), nullable=False),
    sa.Column('window_end', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('notified_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_index(op.f('ix_spikes_unit_id'), 'spikes', ['unit_id'], unique=False)
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('leader', sa.String(length=128), nullable=True),
    sa.Column('handler', sa.String(length=128), nullable=True),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('opened_by', sa.String(length=128), nullable=False),
    sa.Column('response_due', sa.Date(), nullable=False),
    sa.Column('resolve_due', sa.Date(), nullable=False),
    sa.Column('responded_at', sa.DateTime(), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('reply_text', sa.Text(), nullable=True),
    sa.Column('reply_where', sa.Text(), nullable=True),
    sa.Column('replied_at', sa.DateTime(), nullable=True),
    sa.Column('no_reply_reason', sa.Text(), nullable=True),
    sa.Column('no_reply_by', sa.String(length=128), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('follow_up_until', sa.DateTime(), nullable=True),
    sa.Column('next_follow_up_at', sa.DateTime(), nullable=True),
    sa.Column('follow_up', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'unit_id', name='uq_case_event_unit')
    )
    op.create_index(op.f('ix_cases_event_id'), 'cases', ['event_id'], unique=False)
    op.create_index(op.f('ix_cases_opened_at'), 'cases', ['opened_at'], unique=False)
    op.create_index(op.f('ix_cases_status'), 'cases', ['status'], unique=False)
    op.create_index(op.f('ix_cases_unit_id'), 'cases', ['unit_id'], unique=False)
    op.create_table('post_sketches',
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('title_key', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('post_id')
    )
    op.create_index(op.f('ix_post_sketches_at'), 'post_sketches', ['at'], unique=False)
    op.create_index(op.f('ix_post_sketches_event_id'), 'post_sketches', ['event_id'], unique=False)
    op.create_index(op.f('ix_post_sketches_title_key'), 'post_sketches', ['title_key'], unique=False)
    op.create_table('case_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('by', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('status_from', sa.String(length=16), nullable=True),
    sa.Column('status_to', sa.String(length=16), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_case_log_case_id'), 'case_log', ['case_id'], unique=False)


def downgrade() -> None:
    for table in ("case_log", "cases", "post_sketches", "spikes", "events"):
        op.drop_table(table)
