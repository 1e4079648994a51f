-- What each batch of a recalculation changed in suppliers' emissions, for
-- intake's supplier totals: written in the batch's transaction, sent to
-- intake after it commits, marked sent once intake has it (an outbox).
CREATE TABLE supplier_adjustments (
    tenant_id        uuid NOT NULL,
    recalculation_id bigint NOT NULL REFERENCES recalculations (id),
    batch            bigint NOT NULL,
    supplier_id      text NOT NULL,
    kg_co2e          numeric NOT NULL,
    sent             boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, recalculation_id, batch, supplier_id)
);
ALTER TABLE supplier_adjustments ENABLE ROW LEVEL SECURITY;
ALTER TABLE supplier_adjustments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON supplier_adjustments
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT, UPDATE ON supplier_adjustments TO vcci_app;
CREATE INDEX supplier_adjustments_unsent ON supplier_adjustments (tenant_id, recalculation_id, batch) WHERE NOT sent;
