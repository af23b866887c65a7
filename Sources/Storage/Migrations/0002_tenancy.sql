-- Tenancy: the lifecycle columns, the database's own check of lifecycle transitions, the
-- operator's view of the audit trail, and the purge of deleted tenants.

ALTER TABLE tenants
    ADD COLUMN suspend_reason text CONSTRAINT tenants_suspend_reason_length CHECK (char_length(suspend_reason) <= 500),
    ADD COLUMN purge_after    timestamptz,
    ADD COLUMN purged_at      timestamptz;

-- pending -> active <-> suspended -> deleted, nothing else: a second lock behind the service's
-- own check, so no code path (nor a hand-written UPDATE) can skip a step.
CREATE FUNCTION tenants_check_status_transition() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
           (OLD.status = 'pending'   AND NEW.status = 'active')
        OR (OLD.status = 'active'    AND NEW.status = 'suspended')
        OR (OLD.status = 'suspended' AND NEW.status IN ('active', 'deleted'))
    ) THEN
        RAISE EXCEPTION 'tenant % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'tenants_status_transition';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER tenants_status_transition
    BEFORE UPDATE OF status ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_check_status_transition();

GRANT UPDATE (suspend_reason, purge_after) ON tenants TO enface_admin;

-- The operator reads the whole trail (it holds no biometric data); the data plane still sees
-- only its own tenant's events.
CREATE POLICY operator_reads_audit ON audit_events FOR SELECT TO enface_admin USING (true);
CREATE INDEX audit_events_tenant_action ON audit_events (tenant_id, action, id);

-- Purging a deleted tenant past its grace period: its persons, faces, keys and usage rows go,
-- and its wrapped key is destroyed, so copies of its templates in backups become unreadable.
-- The operator may run this, and only this, on tenant data: it destroys, it never reads. The
-- audit trail stays.
CREATE FUNCTION purge_tenant(target uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    due boolean;
BEGIN
    -- The owner is subject to the forced policies too: work as that tenant.
    PERFORM set_config('app.tenant_id', target::text, true);
    SELECT t.status = 'deleted' AND t.purged_at IS NULL AND t.purge_after <= now()
      INTO due FROM public.tenants AS t WHERE t.id = target FOR UPDATE;
    IF due IS NOT TRUE THEN
        RETURN false;
    END IF;
    DELETE FROM public.faces WHERE tenant_id = target;
    DELETE FROM public.persons WHERE tenant_id = target;
    DELETE FROM public.api_keys WHERE tenant_id = target;
    DELETE FROM public.usage WHERE tenant_id = target;
    UPDATE public.tenants SET wrapped_key = NULL, purged_at = now() WHERE id = target;
    RETURN true;
END
$$;

REVOKE ALL ON FUNCTION purge_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_tenant(uuid) TO enface_admin;
