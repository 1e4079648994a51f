-- Totals per summary dimension (1 supplier, 2 category, 3 NAICS code,
-- 4 month), kept current in the transaction that stores results: a summary
-- reads at most one row per group, however many transactions there are.
CREATE TABLE emission_totals (
    tenant_id uuid NOT NULL,
    dim       smallint NOT NULL CHECK (dim BETWEEN 1 AND 4),
    key       text NOT NULL,
    kg_co2e   numeric NOT NULL,
    spend_usd numeric NOT NULL,
    tx_count  bigint NOT NULL,
    PRIMARY KEY (tenant_id, dim, key)
);
CREATE INDEX emission_totals_by_kg ON emission_totals (tenant_id, dim, kg_co2e DESC, key);

INSERT INTO emission_totals (tenant_id, dim, key, kg_co2e, spend_usd, tx_count)
SELECT tenant_id, dim, key, sum(kg_co2e), sum(spend_usd), sum(tx_count)
FROM (
    SELECT tenant_id, 1 AS dim, supplier_id AS key, kg_co2e, spend_usd, tx_count FROM emission_rollup
    UNION ALL SELECT tenant_id, 2, category::text, kg_co2e, spend_usd, tx_count FROM emission_rollup
    UNION ALL SELECT tenant_id, 3, naics_code, kg_co2e, spend_usd, tx_count FROM emission_rollup
    UNION ALL SELECT tenant_id, 4, to_char(month, 'YYYY-MM'), kg_co2e, spend_usd, tx_count FROM emission_rollup
) r GROUP BY 1, 2, 3;

ALTER TABLE emission_totals ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON emission_totals
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT, UPDATE ON emission_totals TO vcci_app;
