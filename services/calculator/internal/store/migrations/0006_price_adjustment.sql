-- Spend is brought to the factor set's base-year dollars with a price
-- index before the factor applies (pkg/refdata/data/README.md). A set
-- records its price year and that year's average index; a result, the
-- index it used, its month and the amount in base-year dollars. Results
-- stored before have none of them: their kg_co2e is amount_usd x factor.
ALTER TABLE factor_sets
    ADD COLUMN price_year smallint,
    ADD COLUMN price_index_base numeric;
ALTER TABLE emission_results
    ADD COLUMN amount_base_usd numeric(18, 4),
    ADD COLUMN price_index numeric,
    ADD COLUMN price_index_month date;
