-- fieldsync hub database, schema version 4: the shared registry
-- (entities edited offline, field-level versions, conflicts).
-- Filled in by the entities work (issue 4).
SELECT 1;
