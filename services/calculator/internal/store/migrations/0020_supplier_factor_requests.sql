-- A create may carry a request id (AIP-155): repeating it returns the
-- factor it made instead of recording the figure again, so that a retried
-- or concurrent create (a submission accepted twice at once) records once.
-- The recalculation queued with a factor is kept with it, so every read of
-- the factor names it, not only the create's answer.
ALTER TABLE supplier_factors ADD COLUMN request_id text, ADD COLUMN recalculation_id bigint;
CREATE UNIQUE INDEX supplier_factors_request ON supplier_factors (tenant_id, request_id) WHERE request_id IS NOT NULL;
-- The id is taken first, so the recalculation's reason can name the
-- factor and the factor its recalculation, in one insert each.
GRANT USAGE ON SEQUENCE supplier_factors_id_seq TO vcci_app;
