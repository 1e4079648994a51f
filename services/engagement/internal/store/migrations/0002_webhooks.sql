-- Webhooks: a tenant's endpoints, the events services published, one
-- delivery per event and endpoint (and per redelivery), and every attempt.
CREATE TABLE engagement.webhook_endpoints (
    tenant_id       uuid NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url             text NOT NULL,
    events          text[] NOT NULL,
    description     text NOT NULL DEFAULT '',
    secret          text NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    disabled_reason text NOT NULL DEFAULT '',
    disabled_at     timestamptz,
    -- The first failed attempt since the last delivered one: a day after
    -- it, with no success since, the endpoint is disabled.
    failing_since   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant_created ON engagement.webhook_endpoints (tenant_id, created_at DESC, id DESC);

-- (tenant_id, id) makes publishing idempotent: the id is the emitter's.
-- body is the exact JSON sent, so retries and redeliveries sign the same
-- bytes.
CREATE TABLE engagement.webhook_events (
    tenant_id  uuid NOT NULL,
    id         text NOT NULL,
    type       text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE engagement.webhook_deliveries (
    tenant_id   uuid NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id bigint NOT NULL REFERENCES engagement.webhook_endpoints (id) ON DELETE CASCADE,
    event_id    text NOT NULL,
    event_type  text NOT NULL,
    state       smallint NOT NULL,
    status_code int NOT NULL DEFAULT 0,
    latency_ms  bigint NOT NULL DEFAULT 0,
    attempts    int NOT NULL DEFAULT 0,
    last_error  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, event_id) REFERENCES engagement.webhook_events (tenant_id, id)
);
CREATE INDEX webhook_deliveries_endpoint ON engagement.webhook_deliveries (endpoint_id, created_at DESC, id DESC);

CREATE TABLE engagement.webhook_attempts (
    tenant_id   uuid NOT NULL,
    delivery_id bigint NOT NULL REFERENCES engagement.webhook_deliveries (id) ON DELETE CASCADE,
    attempt     int NOT NULL,
    at          timestamptz NOT NULL,
    status_code int NOT NULL,
    latency_ms  bigint NOT NULL,
    error       text NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_endpoints', 'webhook_events', 'webhook_deliveries', 'webhook_attempts'] LOOP
        EXECUTE format('ALTER TABLE engagement.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE engagement.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON engagement.%I USING (tenant_id = current_setting(''vcci.tenant_id'')::uuid) WITH CHECK (tenant_id = current_setting(''vcci.tenant_id'')::uuid)', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON engagement.%I TO vcci_app', t);
    END LOOP;
END $$;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA engagement TO vcci_app;
