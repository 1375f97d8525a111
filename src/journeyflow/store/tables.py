"""The database tables (SQLAlchemy Core). Alembic migrations create and upgrade
them; a test checks the migrations produce exactly these tables."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

customers = Table(
    "customers",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("attributes", JSON, nullable=False),
    Column("segments", JSON, nullable=False),
    Column("created_at", DateTime, nullable=True),
)

journey_versions = Table(
    "journey_versions",
    metadata,
    Column("journey", String(100), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("loaded_at", DateTime, nullable=True),
)

enrolments = Table(
    "enrolments",
    metadata,
    Column("id", String(600), primary_key=True),
    Column("customer_id", String(255), nullable=False),
    Column("journey", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(255), nullable=True),
    Column("ordinal", Integer, nullable=False),
    Column("state", String(100), nullable=False),
    Column("entered_at", DateTime, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("ended_at", DateTime, nullable=True),
    Column("end_reason", String(255), nullable=True),
    Column("in_holdout", Boolean, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("timers", JSON, nullable=False),
    # the earliest pending timer; NULL once ended, so due timers come off an index
    Column("next_due_at", DateTime, nullable=True),
    Column("position", Integer, nullable=False, server_default="0"),  # the customer's n-th
    # the enrolment context: the event that created it, its `vars`, visits per state
    Column("trigger", JSON, nullable=True),
    Column("vars", JSON, nullable=False, server_default="{}"),
    Column("visits", JSON, nullable=False, server_default="{}"),
    Index("ix_enrolments_customer", "customer_id"),
    Index("ix_enrolments_next_due_at", "next_due_at"),
    Index("ix_enrolments_journey_state", "journey", "status", "state"),
)

events = Table(
    "events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # arrival order
    Column("message_id", String(255), nullable=False, unique=True),
    Column("customer_id", String(255), nullable=False),
    Column("type", String(20), nullable=False),
    Column("name", String(255), nullable=False),
    Column("timestamp", DateTime, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("processed_at", DateTime, nullable=True),  # set in the same transaction as its effects
    Index("ix_events_timestamp", "timestamp"),
)

history = Table(
    "history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enrolment_id", String(600), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("journey", String(100), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("from_state", String(100), nullable=True),
    Column("to_state", String(100), nullable=True),
    Column("cause", String(500), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("detail", Text, nullable=True),
    Index("ix_history_customer", "customer_id"),
    Index("ix_history_journey", "journey"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("effect_key", String(64), primary_key=True),
    Column("channel", String(100), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("journey", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("enrolment_id", String(600), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("template", String(255), nullable=True),
    Column("data", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("seq", Integer, nullable=False, server_default="0"),
    Column("action", Integer, nullable=False, server_default="0"),
    Column("ordinal", BigInteger, nullable=False, server_default="0"),  # causal order
    Column("next_attempt_at", DateTime, nullable=True),  # a retry time, or a claim's lease
    # the claim holding the row (a random id per claim): only its holder may
    # renew the lease or record the attempt; NULL once recorded
    Column("claim_token", String(32), nullable=True),
    Index("ix_outbox_status", "status", "created_at"),
    Index("ix_outbox_customer", "customer_id"),
)
# the order effects are listed and claimed in: time, then the order the engine
# produced them in (causal), then rows written before ordinals by enrolment,
# transition and action (`records.effect_order` is the same for the memory store)
OUTBOX_ORDER = (
    outbox.c.created_at,
    outbox.c.ordinal,
    outbox.c.enrolment_id,
    outbox.c.seq,
    outbox.c.action,
)

# Events the engine refused, kept with why (the dead-letter table, store/deadletter.py):
# bounded in rows by the engine, in raw bytes by MAX_RAW_BYTES. `raw` is bytes,
# not text: a line that is not UTF-8, or holds a NUL, is among what is kept.
rejected_events = Table(
    "rejected_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # arrival order
    Column("fingerprint", String(64), nullable=False),  # source, line, raw: kept once
    Column("source", Text, nullable=False),
    Column("line", Integer, nullable=True),
    Column("kind", String(40), nullable=False),
    Column("reason", Text, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("raw_truncated", Boolean, nullable=False),
    UniqueConstraint("fingerprint", name="uq_rejected_events_fingerprint"),
    Index("ix_rejected_events_received_at", "received_at"),
)

# Events the HTTP ingest accepted, committed before the sender hears 200 and
# waiting to be applied (store/sql/inbox.py): taken oldest first by `seq`, a
# shard (a hash of the customer) at a time, deleted once applied. `raw` is the
# accepted event as JSON (orjson), batch-level context already merged in.
# SQLite: `seq` is the rowid, AUTOINCREMENT so a deleted seq is never reused.
inbox = Table(
    "inbox",
    metadata,
    Column(
        "seq",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("message_id", String(255), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("shard", SmallInteger, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    UniqueConstraint("message_id", name="uq_inbox_message_id"),
    Index("ix_inbox_shard_seq", "shard", "seq"),
    sqlite_autoincrement=True,
)
