"""Alembic environment: runs on the connection yuqing hands it (or the URL in the config)."""

from alembic import context

from yuqing.storage import Base

target_metadata = Base.metadata
config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Run from the alembic command line: storage builds the engine, as everywhere else.
    from yuqing.storage import Database

    db = Database(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with db.engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


import yuqing.ledger_models  # noqa: E402,F401
import yuqing.marks  # noqa: E402,F401

run()
