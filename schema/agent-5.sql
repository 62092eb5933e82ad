-- fieldsync agent database, schema version 5: quotas assigned to this
-- device, counted offline.
-- Filled in by the mapping-dataset work (issue 7).
SELECT 1;
