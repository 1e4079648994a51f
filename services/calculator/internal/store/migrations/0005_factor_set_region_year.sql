-- Where a set's factors apply and the year of its data (and, for a
-- spend-based set, of its currency), so every factor read can say so. Sets
-- loaded before this learn theirs here; LoadSet writes them for new ones.
ALTER TABLE factor_sets ADD COLUMN region text NOT NULL DEFAULT '',
    ADD COLUMN data_year smallint NOT NULL DEFAULT 0;
UPDATE factor_sets SET region = 'US', data_year = 2022 WHERE name = 'epa-supply-chain-v1.3.0';
