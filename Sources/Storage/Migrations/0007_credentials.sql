-- Credentials, as nodes now cache them.
--
-- A key's expiry travels with it: nodes cache credentials (so a search needs no database round
-- trip) and must still refuse a key the moment it expires; and a key created with a credential
-- that expires may not outlive it.

DROP FUNCTION authenticate_api_key(bytea);

-- Finds a key by the SHA-256 of its text and returns only what authentication needs.
CREATE FUNCTION authenticate_api_key(key_hash bytea)
RETURNS TABLE (tenant_id uuid, key_id uuid, scopes text[], key_status text, tenant_status text, expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT k.tenant_id,
           k.id,
           k.scopes,
           CASE
               WHEN k.revoked_at IS NOT NULL THEN 'revoked'
               WHEN k.expires_at IS NOT NULL AND k.expires_at <= now() THEN 'expired'
               ELSE 'active'
           END,
           t.status,
           k.expires_at
      FROM public.api_keys AS k
      JOIN public.tenants AS t ON t.id = k.tenant_id
     WHERE k.hash = key_hash
$$;

REVOKE ALL ON FUNCTION authenticate_api_key(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authenticate_api_key(bytea) TO enface_app;

-- A JWT issuer names the tenants it may speak for, by id or by slug; a token's tenant claim may
-- be a slug. The data plane cannot read other tenants' rows, so a slug is resolved here: the id
-- of a tenant that is not purged, and nothing else (slugs are host names, not secrets).
CREATE FUNCTION tenant_id_for_slug(tenant_slug text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT t.id FROM public.tenants AS t WHERE t.slug = tenant_slug AND t.purged_at IS NULL
$$;

REVOKE ALL ON FUNCTION tenant_id_for_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_id_for_slug(text) TO enface_app;
