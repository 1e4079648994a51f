-- A line in another currency keeps its currency and amount and the rate it
-- was converted to amount_usd at, with the rate's month. NULL for lines in
-- US dollars: no rewrite, and no bytes on the common case.
ALTER TABLE emission_results
    ADD COLUMN currency text,
    ADD COLUMN amount numeric(18, 4),
    ADD COLUMN fx_rate numeric,
    ADD COLUMN fx_month date;
