-- Least privilege for the operator role: what it writes that could do harm unseen now goes
-- through the database's own checks.

-- Keys: the operator role may no longer insert into api_keys directly. It creates a key through
-- this function, which refuses unless the key's audit event ('key.create' naming it, or the
-- 'tenant.create' of its tenant's first key) was written earlier in the same transaction: no key
-- is made without its record. (The record's HMAC is the node's to compute; `enface audit verify`
-- checks it.)
CREATE FUNCTION operator_create_key(
    key_tenant uuid, key_id uuid, key_name text, key_prefix text, key_hash bytea, key_scopes text[],
    key_expires_at timestamptz, key_created_at timestamptz
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    caller_tenant text := current_setting('app.tenant_id', true);
BEGIN
    -- The owner is subject to the forced policies too: work as that tenant, then as before.
    PERFORM set_config('app.tenant_id', key_tenant::text, true);
    IF NOT EXISTS (
        SELECT 1 FROM public.audit_events AS e
         WHERE e.tenant_id = key_tenant
           AND e.xmin = pg_current_xact_id()::xid
           AND ((e.action = 'key.create' AND e.target = key_id::text)
                OR (e.action = 'tenant.create' AND e.detail #>> '{key,id}' = key_id::text))
    ) THEN
        RAISE EXCEPTION 'a key is created only together with its audit event'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO public.api_keys (tenant_id, id, name, prefix, hash, scopes, expires_at, created_at)
    VALUES (key_tenant, key_id, key_name, key_prefix, key_hash, key_scopes, key_expires_at, key_created_at);
    PERFORM set_config('app.tenant_id', coalesce(caller_tenant, ''), true);
END
$$;

REVOKE ALL ON FUNCTION operator_create_key(uuid, uuid, text, text, bytea, text[], timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION operator_create_key(uuid, uuid, text, text, bytea, text[], timestamptz, timestamptz) TO enface_admin;
-- The owner inserts keys through the function: it needs the policy's WITH CHECK, which the
-- tenant set above satisfies, and the privilege, which it has as the table's owner.
REVOKE INSERT ON api_keys FROM enface_admin;

-- When a deleted tenant is purged: set once, by the lifecycle, to its deletion plus its
-- retention (its quota, which an operator changes through the audited API), and never moved
-- after. An operator login can no longer pull a purge forward by writing purge_after.
CREATE FUNCTION tenants_check_purge_after() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    -- The retention the tenant had before this statement: one that also changes the quotas
    -- cannot choose its own (an operator changes quotas through the audited API first).
    retention integer := greatest(0, coalesce((OLD.quotas ->> 'retentionDays')::integer, 30));
BEGIN
    IF NEW.purge_after IS NOT DISTINCT FROM OLD.purge_after THEN
        RETURN NEW;
    END IF;
    IF OLD.purge_after IS NOT NULL
       OR NEW.status <> 'deleted' OR OLD.status = 'deleted'
       OR NEW.deleted_at IS NULL OR NEW.deleted_at < now() - interval '1 minute'
       -- (a second of slack: the two times are bound separately, each to its microsecond)
       OR abs(extract(epoch FROM NEW.purge_after - (NEW.deleted_at + make_interval(days => retention)))) > 1 THEN
        RAISE EXCEPTION 'tenant %: purge_after is set once, on deletion, to its retention', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'tenants_purge_after';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER tenants_purge_after
    BEFORE UPDATE OF purge_after ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_check_purge_after();
