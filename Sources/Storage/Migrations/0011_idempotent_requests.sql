-- A client's retry of an enroll (single or batch) with the same `Idempotency-Key` gets the first
-- answer back instead of enrolling twice. The key is claimed first in the enroll's own
-- transaction and the answer stored last in it: a concurrent retry waits on the claim and then
-- reads the answer, and a rolled-back enroll leaves no key behind. Keys live 24 hours.

CREATE TABLE idempotent_requests (
    tenant_id   uuid NOT NULL,
    key         text NOT NULL CONSTRAINT idempotent_requests_key_length CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the credential, method, path and body: the same key for another request is refused.
    fingerprint bytea NOT NULL CONSTRAINT idempotent_requests_fingerprint_length CHECK (length(fingerprint) = 32),
    status      integer,
    -- The answer's JSON (face and person ids, counts): never a template or an embedding.
    body        bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotent_requests_age ON idempotent_requests (tenant_id, created_at);

ALTER TABLE idempotent_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotent_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotent_requests
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid));

REVOKE ALL ON idempotent_requests FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotent_requests TO enface_app;

-- A purged tenant leaves no remembered answer behind.
CREATE OR REPLACE FUNCTION purge_tenant(target uuid) RETURNS boolean
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
    DELETE FROM public.face_changes WHERE tenant_id = target;
    DELETE FROM public.idempotent_requests WHERE tenant_id = target;
    DELETE FROM public.api_keys WHERE tenant_id = target;
    DELETE FROM public.usage WHERE tenant_id = target;
    UPDATE public.tenants SET wrapped_key = NULL, purged_at = now() WHERE id = target;
    RETURN true;
END
$$;
