-- Keys get a public id (their resource name is apiKeys/{id}), scopes, an
-- optional expiry and when they were last used. Keys made before scopes
-- existed keep everything they could do.
ALTER TABLE iam.api_keys
    ADD COLUMN id           uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    ADD COLUMN scopes       text[] NOT NULL DEFAULT '{read,write,admin}'
        CHECK (cardinality(scopes) > 0 AND scopes <@ '{read,write,admin}'),
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN last_used_at timestamptz;
-- Serves ListApiKeys: a tenant's keys, newest first.
CREATE INDEX api_keys_tenant_created ON iam.api_keys (tenant_id, created_at DESC, id DESC);
DROP INDEX iam.api_keys_tenant;

-- The audit log: one row per successful write, key creation and
-- revocation. Rows are only ever added: vcci_app may read and insert, and
-- the trigger below refuses UPDATE, DELETE and TRUNCATE to every role,
-- the tables' owner included.
CREATE TABLE iam.audit_log (
    tenant_id   uuid NOT NULL REFERENCES iam.tenants (id),
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,        -- apiKeys/{id}, or service
    key_prefix  text NOT NULL DEFAULT '',
    method      text NOT NULL,        -- the full gRPC method
    resource    text NOT NULL DEFAULT '',
    request_id  text NOT NULL DEFAULT ''
);
-- Serves ListAuditEvents: newest first, paged by id.
CREATE INDEX audit_log_tenant_id ON iam.audit_log (tenant_id, id DESC);

CREATE FUNCTION iam.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'iam.audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON iam.audit_log
    FOR EACH ROW EXECUTE FUNCTION iam.audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON iam.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION iam.audit_log_append_only();

ALTER TABLE iam.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE iam.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON iam.audit_log
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
REVOKE ALL ON iam.audit_log FROM PUBLIC;
GRANT SELECT, INSERT ON iam.audit_log TO vcci_app;
GRANT USAGE ON SEQUENCE iam.audit_log_id_seq TO vcci_app;

-- The service credentials: the tokens services send each other when they
-- act for a tenant. Two are accepted while a rotation is under way, the
-- current one (which services send) and the previous one, until it is
-- retired. They are independent of iam.service_secret, which stays the
-- root that DeriveKey derives from, so rotating them changes no derived
-- key. An existing platform secret was the token until now: it becomes
-- the first current token, so running services keep working through the
-- upgrade, and the first rotation retires it from the wire.
CREATE TABLE iam.service_credentials (
    slot       text PRIMARY KEY CHECK (slot IN ('current', 'previous')),
    token      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO iam.service_credentials (slot, token)
SELECT 'current', encode(secret, 'hex') FROM iam.service_secret;
