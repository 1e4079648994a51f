-- Transaction and supplier ids compare bytewise, as in intake (its
-- migration 0018 says why).
ALTER TABLE emission_results ALTER COLUMN transaction_id TYPE text COLLATE "C",
    ALTER COLUMN supplier_id TYPE text COLLATE "C";
