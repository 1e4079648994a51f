-- The read side: supplier totals kept current as uploads finish, supplier
-- search, and the indexes transaction listing pages through.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;

-- unaccent() is only STABLE (its dictionary could be swapped); naming the
-- dictionary pins it, which makes folding safe to index.
CREATE FUNCTION fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN lower(public.unaccent('public.unaccent'::regdictionary, $1));

-- Totals cover uploads whose calculation finished: they are added in the
-- transaction that marks the upload succeeded, so they count each line once.
ALTER TABLE suppliers
    ADD COLUMN country     text NOT NULL DEFAULT '',
    ADD COLUMN naics_codes text[] NOT NULL DEFAULT '{}',
    ADD COLUMN spend_usd   numeric NOT NULL DEFAULT 0,
    ADD COLUMN kg_co2e     numeric NOT NULL DEFAULT 0,
    ADD COLUMN tx_count    bigint NOT NULL DEFAULT 0,
    ADD COLUMN search_name text GENERATED ALWAYS AS (fold(name)) STORED;
CREATE INDEX suppliers_search ON suppliers USING gin (search_name public.gin_trgm_ops);
CREATE INDEX suppliers_naics ON suppliers USING gin (naics_codes);
CREATE INDEX suppliers_by_kg ON suppliers (tenant_id, kg_co2e DESC, supplier_id DESC);
CREATE INDEX suppliers_by_spend ON suppliers (tenant_id, spend_usd DESC, supplier_id DESC);
CREATE INDEX suppliers_by_count ON suppliers (tenant_id, tx_count DESC, supplier_id DESC);
CREATE INDEX suppliers_by_name ON suppliers (tenant_id, name, supplier_id);
CREATE INDEX suppliers_country ON suppliers (tenant_id, country) WHERE country <> '';

-- The category is the NAICS code's factor's, fixed when the line is accepted.
ALTER TABLE transactions ADD COLUMN category smallint NOT NULL DEFAULT 0;
ALTER TABLE transactions ALTER COLUMN category DROP DEFAULT;
-- Keyset pagination walks these in either direction; equality filters on
-- supplier use the second. Every partition gets its own copy.
CREATE INDEX transactions_by_date ON transactions (tenant_id, tx_date, transaction_id);
CREATE INDEX transactions_by_supplier ON transactions (tenant_id, supplier_id, tx_date, transaction_id);
CREATE INDEX transactions_by_amount ON transactions (tenant_id, amount_usd, transaction_id);
