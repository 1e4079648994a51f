CREATE TABLE iam.tenants (
    id         uuid PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE iam.api_keys (
    key_hash   bytea PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES iam.tenants (id),
    prefix     text NOT NULL,
    label      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX api_keys_tenant ON iam.api_keys (tenant_id);
