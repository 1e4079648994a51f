-- An upload is stored (its content in upload_chunks) before it is
-- acknowledged; the worker then moves it through its states.
CREATE TABLE uploads (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    filename        text NOT NULL,
    idempotency_key text,
    sha256          bytea,
    size_bytes      bigint NOT NULL DEFAULT 0,
    state           smallint NOT NULL,
    priority        smallint NOT NULL DEFAULT 5,
    attempts        int NOT NULL DEFAULT 0,
    lease_until     timestamptz,
    rows_read       bigint NOT NULL DEFAULT 0,
    rows_accepted   bigint NOT NULL DEFAULT 0,
    rows_rejected   bigint NOT NULL DEFAULT 0,
    rows_calculated bigint NOT NULL DEFAULT 0,
    kg_co2e         numeric,
    min_date        date,
    max_date        date,
    failure_reason  text NOT NULL DEFAULT '',
    -- The W3C traceparent of the request that sent the file: background
    -- work on it continues that trace.
    trace_parent    text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz
);
CREATE UNIQUE INDEX uploads_content ON uploads (tenant_id, sha256);
CREATE UNIQUE INDEX uploads_idempotency ON uploads (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX uploads_tenant ON uploads (tenant_id, id DESC);
CREATE INDEX uploads_work ON uploads (priority, id) WHERE state IN (1, 2, 3);

CREATE TABLE upload_chunks (
    tenant_id uuid NOT NULL,
    upload_id bigint NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    seq       int NOT NULL,
    data      bytea NOT NULL,
    PRIMARY KEY (upload_id, seq)
);
-- CSV compresses well but pglz costs more CPU than the disk it saves here.
ALTER TABLE upload_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE upload_errors (
    tenant_id   uuid NOT NULL,
    upload_id   bigint NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    row_number  bigint NOT NULL,
    column_name text NOT NULL,
    reason      text NOT NULL,
    value       text NOT NULL,
    PRIMARY KEY (upload_id, seq)
);

CREATE TABLE suppliers (
    tenant_id   uuid NOT NULL,
    supplier_id text NOT NULL,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, supplier_id)
);

CREATE TABLE transactions (
    tenant_id      uuid NOT NULL,
    transaction_id text NOT NULL,
    tx_date        date NOT NULL,
    upload_id      bigint NOT NULL,
    row_number     bigint NOT NULL,
    supplier_id    text NOT NULL,
    naics_code     text NOT NULL,
    amount_usd     numeric(18, 4) NOT NULL,
    currency       text NOT NULL,
    description    text NOT NULL,
    PRIMARY KEY (tenant_id, transaction_id, tx_date)
) PARTITION BY RANGE (tx_date);
-- Upload ids grow and rows arrive in upload order: a BRIN index finds one
-- upload's rows for almost no write cost.
CREATE INDEX transactions_upload ON transactions USING brin (upload_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['uploads', 'upload_chunks', 'upload_errors', 'suppliers', 'transactions'] LOOP
        EXECUTE format('ALTER TABLE intake.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON intake.%I USING (tenant_id = current_setting(''vcci.tenant_id'')::uuid) WITH CHECK (tenant_id = current_setting(''vcci.tenant_id'')::uuid)', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON intake.%I TO vcci_app', t);
    END LOOP;
END $$;
