-- The tables' owner, the role the services connect as, is held to the
-- tenant policies too. A statement run outside a tenant's scope by mistake
-- then fails (vcci.tenant_id is not set) instead of reading or writing
-- every tenant's rows. Only a superuser or a role with BYPASSRLS passes;
-- a deployment's connecting role should be neither.
--
-- Upkeep across tenants runs as vcci_maintenance (db.AsMaintenance):
-- folding the counters (store.CompactCounts) and failing the uploads whose
-- job River gave up on (store.FailAbandoned). A policy for that role lets
-- it see every row of the tables it touches, and its grants say what it
-- may do there. A role's policies apply to its members too, the owner
-- among them (it must be one to switch to the role), so the policy asks
-- for the role itself: only a transaction that switched passes. vcci_app
-- is no member, so the plans of tenant queries do not change.
--
-- supplier_totals keeps no policy (migration 0005 says why). Partitions of
-- transactions are reached only through it, whose policy then applies:
-- nobody but the owner has a grant on a partition.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['uploads', 'upload_chunks', 'upload_errors', 'suppliers', 'transactions',
        'transaction_days', 'transaction_suppliers', 'transaction_codes'] LOOP
        EXECUTE format('ALTER TABLE intake.%I FORCE ROW LEVEL SECURITY', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['uploads', 'transaction_days', 'transaction_suppliers', 'transaction_codes'] LOOP
        EXECUTE format('CREATE POLICY maintenance ON intake.%I TO vcci_maintenance
            USING (current_user = ''vcci_maintenance'') WITH CHECK (current_user = ''vcci_maintenance'')', t);
    END LOOP;
END $$;
GRANT SELECT, INSERT, DELETE ON transaction_days, transaction_suppliers, transaction_codes TO vcci_maintenance;
GRANT SELECT, UPDATE ON uploads TO vcci_maintenance;
