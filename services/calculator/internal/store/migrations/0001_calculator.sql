-- Factor libraries. tenant_id NULL marks a public library every tenant sees;
-- a tenant's own factors (later) carry its id.
CREATE TABLE factor_sets (
    id           smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    uuid,
    name         text NOT NULL UNIQUE,
    display_name text NOT NULL,
    publisher    text NOT NULL,
    version      text NOT NULL,
    unit         text NOT NULL,
    source       text NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE factors (
    factor_set_id smallint NOT NULL REFERENCES factor_sets (id),
    tenant_id     uuid,
    code          text NOT NULL,
    title         text NOT NULL,
    value         numeric NOT NULL,
    category      smallint NOT NULL CHECK (category BETWEEN 1 AND 15),
    PRIMARY KEY (factor_set_id, code)
);

-- One row per calculated purchase line, with its provenance: the factor set
-- (and so its version), the factor value used and the method.
CREATE TABLE emission_results (
    tenant_id      uuid NOT NULL,
    transaction_id text NOT NULL,
    tx_date        date NOT NULL,
    upload_id      bigint NOT NULL,
    supplier_id    text NOT NULL,
    naics_code     text NOT NULL,
    amount_usd     numeric(18, 4) NOT NULL,
    category       smallint NOT NULL,
    factor_set_id  smallint NOT NULL,
    factor_value   numeric NOT NULL,
    method         text NOT NULL,
    kg_co2e        numeric NOT NULL,
    calculated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, transaction_id, tx_date)
) PARTITION BY RANGE (tx_date);

-- Kept current in the same statement that stores results, so summaries read
-- thousands of rollup rows instead of millions of results.
CREATE TABLE emission_rollup (
    tenant_id     uuid NOT NULL,
    supplier_id   text NOT NULL,
    month         date NOT NULL,
    naics_code    text NOT NULL,
    category      smallint NOT NULL,
    factor_set_id smallint NOT NULL,
    kg_co2e       numeric NOT NULL,
    spend_usd     numeric NOT NULL,
    tx_count      bigint NOT NULL,
    PRIMARY KEY (tenant_id, supplier_id, month, naics_code, category, factor_set_id)
);

ALTER TABLE factor_sets ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_or_public ON factor_sets
    USING (tenant_id IS NULL OR tenant_id = current_setting('vcci.tenant_id')::uuid);
ALTER TABLE factors ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_or_public ON factors
    USING (tenant_id IS NULL OR tenant_id = current_setting('vcci.tenant_id')::uuid);
ALTER TABLE emission_results ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON emission_results
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
ALTER TABLE emission_rollup ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON emission_rollup
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);

GRANT SELECT ON factor_sets, factors TO vcci_app;
GRANT SELECT, INSERT ON emission_results TO vcci_app;
GRANT SELECT, INSERT, UPDATE ON emission_rollup TO vcci_app;
