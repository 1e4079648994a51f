-- The amount in the line's own currency, for lines not in US dollars;
-- amount_usd is it converted at the average rate of the line's month. NULL
-- for USD lines (the amount is amount_usd): no rewrite, no extra bytes.
ALTER TABLE transactions ADD COLUMN amount numeric(18, 4);

-- A supplier's page shows the amount too, so the drill-down index carries it
-- (0004: pages are answered from the index alone). NULLs take no room.
CREATE INDEX transactions_by_supplier_page2 ON transactions (tenant_id, supplier_id, tx_date, transaction_id)
    INCLUDE (amount_usd, amount, naics_code, category, currency, description, upload_id, row_number);
DROP INDEX transactions_by_supplier_page;
ALTER INDEX transactions_by_supplier_page2 RENAME TO transactions_by_supplier_page;

-- An activity line's activity (a factor of the activity set), quantity and
-- unit as given; NULL on spend lines. Its naics_code is '' and its
-- amount_usd the spend it records, 0 when none.
ALTER TABLE transactions ADD COLUMN activity text,
    ADD COLUMN quantity numeric,
    ADD COLUMN unit text;
