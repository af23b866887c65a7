-- Template protection as promised: turning searchable templates off removes the column's contents,
-- and the audit chain's key is a key of its own, with versions, not derived from a master key.

-- Clears a tenant's rotated templates once its settings say it keeps none. The operator role
-- has no grant on faces, so it turns the setting off and calls this in the same transaction; the
-- function refuses for a tenant that still keeps them (it can only finish what the setting says).
CREATE FUNCTION clear_searchable_templates(target uuid) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    caller_tenant text := current_setting('app.tenant_id', true);
    keeps boolean;
    cleared bigint;
BEGIN
    PERFORM set_config('app.tenant_id', target::text, true);
    SELECT coalesce((t.settings ->> 'searchableTemplates')::boolean, true) INTO keeps FROM public.tenants AS t WHERE t.id = target;
    IF keeps IS DISTINCT FROM false THEN
        RAISE EXCEPTION 'tenant % keeps searchable templates', target USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE public.faces SET template = NULL WHERE tenant_id = target AND template IS NOT NULL;
    GET DIAGNOSTICS cleared = ROW_COUNT;
    PERFORM set_config('app.tenant_id', coalesce(caller_tenant, ''), true);
    RETURN cleared;
END
$$;

REVOKE ALL ON FUNCTION clear_searchable_templates(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION clear_searchable_templates(uuid) TO enface_app, enface_admin;

-- Faces without a rotated template (enrolled while the setting was off): pgvector cannot search
-- them, so a cold tenant that has any waits for its shard, whose load writes them back.
CREATE INDEX faces_tenant_without_template ON faces (tenant_id) WHERE template IS NULL;

-- The audit chain's keys: 'audit-chain' (version 1), then 'audit-chain/2', … after each rotation
-- (`enface keys rotate-audit`). Every event names the version of the key that hashed it.
ALTER TABLE platform_keys DROP CONSTRAINT platform_keys_name_known;
ALTER TABLE platform_keys ADD CONSTRAINT platform_keys_name_known CHECK (name ~ '^audit-chain(/[0-9]{1,6})?$');
ALTER TABLE audit_events ADD COLUMN key_version integer NOT NULL DEFAULT 1
    CONSTRAINT audit_events_key_version_positive CHECK (key_version >= 1);
