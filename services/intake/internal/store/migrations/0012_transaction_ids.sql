-- A transaction id is one purchase line of its tenant, whatever date it
-- carries. transactions is partitioned by date, and a unique index of a
-- partitioned table must hold the partition key, so the constraint lives
-- here: validation claims an upload's ids in the transaction that stores its
-- rows, and a row whose id another upload holds (stored before, or by a
-- concurrent upload that commits first) is rejected instead of stored.
CREATE TABLE transaction_ids (
    tenant_id      uuid NOT NULL,
    transaction_id text NOT NULL,
    upload_id      bigint NOT NULL,
    PRIMARY KEY (tenant_id, transaction_id)
);
-- The ids already stored, each held by the first upload that stored it. An
-- id stored before under two dates stays stored twice: replacing a line is
-- for a recalculation, not for a migration. The owner reads every tenant's
-- lines here, so the tenant policy that binds it (0011) is lifted for this
-- transaction only.
ALTER TABLE transactions NO FORCE ROW LEVEL SECURITY;
INSERT INTO transaction_ids (tenant_id, transaction_id, upload_id)
SELECT DISTINCT ON (tenant_id, transaction_id) tenant_id, transaction_id, upload_id
FROM transactions
ORDER BY tenant_id, transaction_id, upload_id;
ALTER TABLE transactions FORCE ROW LEVEL SECURITY;

ALTER TABLE transaction_ids ENABLE ROW LEVEL SECURITY;
ALTER TABLE transaction_ids FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON transaction_ids
    USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
    WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
GRANT SELECT, INSERT ON transaction_ids TO vcci_app;
