-- Two things the Face API still lacked: a home for the platform's own keys, so the master key
-- can be rotated, and a way to notice one tenant trying another tenant's face ids.

-- Keys of the platform itself, each wrapped by the master key (AES-256-GCM, AAD naming the key).
-- Today there is one, the audit chain's HMAC key. Kept here rather than derived from the master
-- key at every start, so that `enface keys rotate-master` re-wraps it like every tenant key and
-- every chain written before a rotation still verifies after it. Not tenant data: no tenant_id,
-- no row-level security; without the master key a row is 61 opaque bytes.
CREATE TABLE platform_keys (
    name        text PRIMARY KEY CONSTRAINT platform_keys_name_known CHECK (name IN ('audit-chain')),
    wrapped     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    rotated_at  timestamptz
);
REVOKE ALL ON platform_keys FROM PUBLIC;
-- The first node to need a key inserts it (every node derives the same first key, so racing
-- inserts agree); only the operator plane re-wraps it.
GRANT SELECT, INSERT ON platform_keys TO enface_app, enface_admin;
GRANT UPDATE (wrapped, rotated_at) ON platform_keys TO enface_admin;

-- A face id of another tenant gets the same 404 as a missing one; the attempt is still worth
-- an operator's attention. This function answers only "does some other tenant hold this face
-- id?", as a boolean, for the caller's own tenant (`app.tenant_id`), and never says which.
--
-- Its index is the second exception to "tenant_id leads every index": it exists for this
-- lookup alone, which by its nature does not know the tenant. Without it every 404 would scan
-- every tenant's faces, a cost any client could trigger at will. Not unique: face ids are
-- random and made by the server, and a unique index would only add a way to probe for them.
CREATE INDEX faces_id ON faces (id);

-- Lets the SECURITY DEFINER function below, which runs as the owner, see faces across
-- tenants; only while it runs (it turns `enface.face_probe` on and off around its one query),
-- so the owner at a psql prompt still sees no face without a tenant. A runtime role may set
-- the variable too, to no effect: the policy is the owner's, and no runtime role can act as
-- the owner.
CREATE POLICY foreign_face_lookup ON faces FOR SELECT TO enface_owner
    USING (current_setting('enface.face_probe', true) = 'on');

CREATE FUNCTION face_held_by_another_tenant(face uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    held boolean;
BEGIN
    PERFORM set_config('enface.face_probe', 'on', true);
    SELECT EXISTS (
        SELECT 1 FROM public.faces AS f
         WHERE f.id = face
           AND f.tenant_id IS DISTINCT FROM (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid))
      INTO held;
    PERFORM set_config('enface.face_probe', '', true);
    RETURN held;
END
$$;

REVOKE ALL ON FUNCTION face_held_by_another_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION face_held_by_another_tenant(uuid) TO enface_app;
