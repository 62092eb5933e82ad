-- fieldsync hub database, schema version 5: the mapping dataset
-- (area geometries, waves, quotas, indicators).
-- Filled in by the mapping-dataset work (issue 7).
SELECT 1;
