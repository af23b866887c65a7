-- A pending tenant (created, never activated, so never served) may be deleted as it is:
-- activating it only to suspend and delete it would make its first key live meanwhile.
-- The database's own check of transitions follows the service's: pending -> deleted joins
-- the moves it lets through, and nothing else changes.
CREATE OR REPLACE FUNCTION tenants_check_status_transition() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
           (OLD.status = 'pending'   AND NEW.status IN ('active', 'deleted'))
        OR (OLD.status = 'active'    AND NEW.status = 'suspended')
        OR (OLD.status = 'suspended' AND NEW.status IN ('active', 'deleted'))
    ) THEN
        RAISE EXCEPTION 'tenant % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'tenants_status_transition';
    END IF;
    RETURN NEW;
END
$$;
