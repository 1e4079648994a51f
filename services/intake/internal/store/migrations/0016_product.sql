-- The supplier's product a line bought (the upload's product_id), which the
-- calculator matches to the supplier's product footprints; NULL when not
-- given, so spend lines take no room. A product line's quantity and unit
-- go in the quantity and unit columns activity lines use (0013).
ALTER TABLE transactions ADD COLUMN product_id text;
