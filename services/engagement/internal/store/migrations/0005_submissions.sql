-- A target's submission link (CreateSubmissionLink): only the link issued
-- at this time works, so issuing another stops the last.
ALTER TABLE engagement.campaign_targets ADD COLUMN link_issued_at timestamptz;
CREATE UNIQUE INDEX campaign_targets_supplier ON engagement.campaign_targets (campaign_id, supplier_id);

-- Figures suppliers sent through their links, kept until the tenant
-- accepts (recording a supplier factor) or rejects them.
CREATE TABLE engagement.submissions (
    tenant_id       uuid NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id     bigint NOT NULL REFERENCES engagement.campaigns (id) ON DELETE CASCADE,
    supplier_id     text NOT NULL,
    -- The figure as the calculator checked it: a vcci.calculator.v1.SupplierFactor.
    figure          bytea NOT NULL,
    contact_name    text NOT NULL,
    contact_email   text NOT NULL,
    comment         text NOT NULL,
    state           smallint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    reviewed_at     timestamptz,
    reject_reason   text NOT NULL DEFAULT '',
    supplier_factor text NOT NULL DEFAULT '',
    recalculation   text NOT NULL DEFAULT ''
);
CREATE INDEX submissions_campaign ON engagement.submissions (campaign_id, supplier_id, id DESC);
CREATE INDEX submissions_newest ON engagement.submissions (campaign_id, id DESC);

ALTER TABLE engagement.submissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE engagement.submissions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON engagement.submissions
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON engagement.submissions TO vcci_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA engagement TO vcci_app;
