"""The organization directory, traces with their RDAP cache, routing rules and routes.

Revision ID: 0005_tracing_routing
Revises: 0004_case_items
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_tracing_routing"
down_revision = "0004_case_items"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directory_revision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_revision")),
    )
    # The one counter row; services only ever update it.
    op.execute("INSERT INTO directory_revision (id, revision) VALUES (1, 0)")
    op.create_table(
        "rdap_cache",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rdap_cache")),
    )
    with op.batch_alter_table("rdap_cache", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rdap_cache_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "org_asns",
        sa.Column("asn", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_org_asns_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("asn", name=op.f("pk_org_asns")),
    )
    with op.batch_alter_table("org_asns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_asns_org_id"), ["org_id"], unique=False)

    op.create_table(
        "org_countries",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_org_countries_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_countries")),
        sa.UniqueConstraint("org_id", "country", name=op.f("uq_org_countries_org_id")),
    )
    with op.batch_alter_table("org_countries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_countries_country"), ["country"], unique=False)
        batch_op.create_index(batch_op.f("ix_org_countries_org_id"), ["org_id"], unique=False)

    op.create_table(
        "org_domains",
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_org_domains_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_org_domains")),
    )
    with op.batch_alter_table("org_domains", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_domains_org_id"), ["org_id"], unique=False)

    op.create_table(
        "org_networks",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("cidr", sa.String(length=43), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_org_networks_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_networks")),
        sa.UniqueConstraint("cidr", name=op.f("uq_org_networks_cidr")),
    )
    with op.batch_alter_table("org_networks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_networks_org_id"), ["org_id"], unique=False)

    op.create_table(
        "org_tlds",
        sa.Column("tld", sa.String(length=63), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_org_tlds_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tld", name=op.f("pk_org_tlds")),
    )
    with op.batch_alter_table("org_tlds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_tlds_org_id"), ["org_id"], unique=False)

    op.create_table(
        "routing_rules",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("police_first", sa.Boolean(), nullable=False),
        sa.Column("police_wait_seconds", sa.Integer(), nullable=False),
        sa.Column(
            "on_police_timeout",
            sa.Enum(
                "proceed",
                "remind",
                name="police_timeout",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("partner_org_id", sa.Uuid(), nullable=True),
        sa.Column("list_url", sa.Boolean(), nullable=False),
        sa.Column("forward_to_partner", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_org_id"],
            ["organizations.id"],
            name=op.f("fk_routing_rules_partner_org_id_organizations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
        sa.UniqueConstraint("country", name=op.f("uq_routing_rules_country")),
    )
    op.create_table(
        "traces",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "complete",
                "partial",
                "unresolved",
                "private",
                "failed",
                name="trace_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("traced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("countries", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_traces_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traces")),
    )
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.create_index("ix_traces_case_id_traced_at", ["case_id", "traced_at"], unique=False)

    op.create_table(
        "routes",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("trace_id", sa.Uuid(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "home",
                "partner",
                "abroad",
                "mixed",
                "undetermined",
                name="route_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_routes_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["trace_id"], ["traces.id"], name=op.f("fk_routes_trace_id_traces"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routes")),
    )
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_routes_case_id_decided_at", ["case_id", "decided_at"], unique=False
        )

    op.create_table(
        "route_steps",
        sa.Column("route_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "police_deconfliction",
                "notice",
                "forward_to_partner",
                "police_referral",
                "list_url",
                name="step_action",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "waiting",
                "in_progress",
                "done",
                "superseded",
                name="step_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("after_seq", sa.Integer(), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("org_name", sa.String(length=200), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_route_steps_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_route_steps_org_id_organizations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["routes.id"],
            name=op.f("fk_route_steps_route_id_routes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_steps")),
        sa.UniqueConstraint("route_id", "seq", name=op.f("uq_route_steps_route_id")),
    )
    with op.batch_alter_table("route_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_route_steps_case_id"), ["case_id"], unique=False)

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("abuse_email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("webhook_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("webhook_secret", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), nullable=False, server_default="en")
        )
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("notes")
        batch_op.drop_column("language")
        batch_op.drop_column("webhook_secret")
        batch_op.drop_column("webhook_url")
        batch_op.drop_column("abuse_email")

    with op.batch_alter_table("route_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_route_steps_case_id"))

    op.drop_table("route_steps")
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.drop_index("ix_routes_case_id_decided_at")

    op.drop_table("routes")
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.drop_index("ix_traces_case_id_traced_at")

    op.drop_table("traces")
    op.drop_table("routing_rules")
    with op.batch_alter_table("org_tlds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_tlds_org_id"))

    op.drop_table("org_tlds")
    with op.batch_alter_table("org_networks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_networks_org_id"))

    op.drop_table("org_networks")
    with op.batch_alter_table("org_domains", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_domains_org_id"))

    op.drop_table("org_domains")
    with op.batch_alter_table("org_countries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_countries_org_id"))
        batch_op.drop_index(batch_op.f("ix_org_countries_country"))

    op.drop_table("org_countries")
    with op.batch_alter_table("org_asns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_asns_org_id"))

    op.drop_table("org_asns")
    with op.batch_alter_table("rdap_cache", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rdap_cache_expires_at"))

    op.drop_table("rdap_cache")
    op.drop_table("directory_revision")
