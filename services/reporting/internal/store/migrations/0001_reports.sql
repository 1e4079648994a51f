-- A report is a resource built by a River job (reporting.report): the row is
-- stored queued with its job, in one transaction, and the job fills in the
-- file. The file lives in the row: reports are megabytes at most, and one
-- store keeps a report and its file consistent, backed up and isolated
-- per tenant by the same policy.
CREATE TABLE reporting.reports (
    tenant_id     uuid NOT NULL,
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          smallint NOT NULL,
    period_start  date NOT NULL,
    period_end    date NOT NULL CHECK (period_end >= period_start),
    snapshot_id   bigint,
    gwp_basis     text NOT NULL DEFAULT '',
    format        smallint NOT NULL,
    organization  text NOT NULL DEFAULT '',
    exclusions    jsonb NOT NULL DEFAULT '[]',
    state         text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    progress      smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    error         text NOT NULL DEFAULT '',
    attempts      int NOT NULL DEFAULT 0,
    file          bytea,
    file_name     text NOT NULL DEFAULT '',
    content_type  text NOT NULL DEFAULT '',
    size_bytes    bigint NOT NULL DEFAULT 0,
    sha256        text NOT NULL DEFAULT '',
    create_time   timestamptz NOT NULL DEFAULT now(),
    finish_time   timestamptz
);
-- Serves ListReports: newest first, paged by id.
CREATE INDEX reports_tenant_id ON reporting.reports (tenant_id, id DESC);

-- FORCE makes the policy bind the table's owner too, so only a superuser
-- (migrations, tests' setup) sees across tenants.
ALTER TABLE reporting.reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.reports FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.reports
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT, UPDATE ON reporting.reports TO vcci_app;
-- Identity columns draw from sequences the inserting role must be able to use.
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA reporting TO vcci_app;
