-- 0014, not 0013: main already holds 0013_currency_amount (FX conversion), which
-- this branch merges with; the migrator applies each version it has not applied.

-- A tenant's saved ERP column mappings: header name in the export -> spend
-- file column, as a JSON object. Tenant-isolated like every intake table
-- (0001, 0011).
CREATE TABLE column_mappings (
    tenant_id  uuid NOT NULL,
    mapping_id text NOT NULL,
    columns    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, mapping_id)
);
ALTER TABLE column_mappings ENABLE ROW LEVEL SECURITY;
ALTER TABLE column_mappings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON column_mappings
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT, DELETE ON column_mappings TO vcci_app;

-- An upload keeps the mapping it was made with (its name and a copy, so that
-- a retry reads the header as the first attempt did), and the header columns
-- validation left unread. The same content sent through another mapping is
-- another upload: the content's unique key includes the mapping's name.
ALTER TABLE uploads
    ADD COLUMN column_mapping  text NOT NULL DEFAULT '',
    ADD COLUMN mapping         jsonb,
    ADD COLUMN ignored_columns text[] NOT NULL DEFAULT '{}';
DROP INDEX uploads_content;
CREATE UNIQUE INDEX uploads_content ON uploads (tenant_id, sha256, column_mapping);
