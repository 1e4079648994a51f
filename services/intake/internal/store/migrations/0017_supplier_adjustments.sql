-- Adjustments the calculator applied to suppliers' totals after a
-- recalculation, by id: one is applied once, however often it is sent.
CREATE TABLE supplier_adjustments (
    tenant_id  uuid NOT NULL,
    id         text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
ALTER TABLE supplier_adjustments ENABLE ROW LEVEL SECURITY;
ALTER TABLE supplier_adjustments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON supplier_adjustments
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT ON supplier_adjustments TO vcci_app;
