-- A tenant's category rules: each gives a Scope 3 category to the uploaded
-- lines that carry none of their own and match it on one of a NAICS prefix,
-- an activity prefix or a supplier id (intake.Rules says which rule wins).
-- Tenant-isolated like every intake table (0001, 0011, 0014).
CREATE TABLE category_rules (
    tenant_id       uuid NOT NULL,
    rule_id         text NOT NULL,
    naics_prefix    text,
    activity_prefix text,
    supplier_id     text,
    category        smallint NOT NULL CHECK (category BETWEEN 1 AND 15),
    description     text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, rule_id),
    CHECK (num_nonnulls(naics_prefix, activity_prefix, supplier_id) = 1)
);
-- Two rules on the same match would leave the winner to chance.
CREATE UNIQUE INDEX category_rules_naics ON category_rules (tenant_id, naics_prefix) WHERE naics_prefix IS NOT NULL;
CREATE UNIQUE INDEX category_rules_activity ON category_rules (tenant_id, activity_prefix) WHERE activity_prefix IS NOT NULL;
CREATE UNIQUE INDEX category_rules_supplier ON category_rules (tenant_id, supplier_id) WHERE supplier_id IS NOT NULL;
ALTER TABLE category_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE category_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON category_rules
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT, DELETE ON category_rules TO vcci_app;

-- Where a stored line's category came from: 'line' (its own), the rule's
-- name, 'categoryRules/{rule}', as the rules were when it was validated (a
-- later change of the rules does not rewrite it), or NULL for its factor's
-- default, the common case, which then takes no room. The lines stored
-- before this column read '' (not recorded): the default is only theirs,
-- every insert names the column.
ALTER TABLE transactions ADD COLUMN category_source text DEFAULT '';

-- A supplier's page shows it too, so the drill-down index carries it (0004,
-- 0013: pages are answered from the index alone).
CREATE INDEX transactions_by_supplier_page2 ON transactions (tenant_id, supplier_id, tx_date, transaction_id)
    INCLUDE (amount_usd, amount, naics_code, category, currency, description, upload_id, row_number, category_source);
DROP INDEX transactions_by_supplier_page;
ALTER INDEX transactions_by_supplier_page2 RENAME TO transactions_by_supplier_page;
