-- Suppliers by month are kept by method too (summary_months dim 1, key
-- 'method|supplier'; a method has no '|', so the supplier is the key
-- after its first '|'): a hotspot pack shows the methods of each supplier's
-- lines in its period, from the rollup rather than the lines. The same
-- rows as before for a supplier of one method a month, so calculating
-- costs no more. Backfilled from the results as 0015 did.
ALTER TABLE factors NO FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_results NO FORCE ROW LEVEL SECURITY;
ALTER TABLE summary_months NO FORCE ROW LEVEL SECURITY;
DELETE FROM summary_months WHERE dim = 1;
INSERT INTO summary_months (tenant_id, dim, month, key, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count)
SELECT g.tenant_id, 1, g.month, g.method || '|' || g.supplier_id, sum(g.kg), sum(g.q * f.value_ar4), sum(g.q * f.value_ar6), sum(g.amt), sum(g.n)
FROM (
    SELECT tenant_id, date_trunc('month', tx_date)::date AS month, supplier_id, method, factor_set_id,
        coalesce(factor_code, naics_code) AS fcode, sum(kg_co2e) AS kg, sum(amount_usd) AS amt, count(*) AS n,
        sum(coalesce(factor_quantity, amount_base_usd, amount_usd)) AS q
    FROM emission_results GROUP BY 1, 2, 3, 4, 5, 6) g
JOIN factors f ON f.factor_set_id = g.factor_set_id AND f.code = g.fcode
GROUP BY g.tenant_id, g.month, g.method, g.supplier_id;
ALTER TABLE factors FORCE ROW LEVEL SECURITY;
ALTER TABLE emission_results FORCE ROW LEVEL SECURITY;
ALTER TABLE summary_months FORCE ROW LEVEL SECURITY;
