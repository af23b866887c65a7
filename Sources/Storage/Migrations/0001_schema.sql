-- Enface's schema: tenants and everything they own, each tenant's rows fenced by forced
-- row-level security. Runs as enface_owner. The three roles and the `vector` extension are
-- created beforehand by a superuser (`enface db start` does it for the embedded server; README
-- gives the statements for an external one), because neither may be created by the owner.

DO $$
DECLARE
    installed text := (SELECT extversion FROM pg_extension WHERE extname = 'vector');
BEGIN
    IF installed IS NULL THEN
        RAISE EXCEPTION 'pgvector is not installed in this database'
            USING HINT = 'As a superuser: CREATE EXTENSION vector;';
    END IF;
    IF string_to_array(split_part(installed, '-', 1), '.')::int[] < ARRAY[0, 8] THEN
        RAISE EXCEPTION 'pgvector % is too old; Enface needs 0.8 or later', installed;
    END IF;
END
$$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Tenants ------------------------------------------------------------------------------------
-- Not a tenant-owned table (it has `id`, not `tenant_id`), but it is fenced all the same: the
-- data plane sees only its own tenant's row, the operator plane sees every tenant.

CREATE TABLE tenants (
    id            uuid PRIMARY KEY
                  CONSTRAINT tenants_id_not_nil CHECK (id <> '00000000-0000-0000-0000-000000000000'),
    slug          text NOT NULL UNIQUE
                  CONSTRAINT tenants_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$'),
    name          text NOT NULL CONSTRAINT tenants_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    status        text NOT NULL DEFAULT 'pending'
                  CONSTRAINT tenants_status_known CHECK (status IN ('pending', 'active', 'suspended', 'deleted')),
    plan          text NOT NULL,
    settings      jsonb NOT NULL DEFAULT '{}' CONSTRAINT tenants_settings_object CHECK (jsonb_typeof(settings) = 'object'),
    quotas        jsonb NOT NULL DEFAULT '{}' CONSTRAINT tenants_quotas_object CHECK (jsonb_typeof(quotas) = 'object'),
    -- The tenant key wrapped by the master key; NULL once destroyed (tenant purged).
    wrapped_key   bytea,
    key_version   integer NOT NULL DEFAULT 1,
    -- Embedding model (models/<id>.json); fixed at creation, it fixes the template dimension.
    model         text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    activated_at  timestamptz,
    suspended_at  timestamptz,
    deleted_at    timestamptz
);

-- API keys -----------------------------------------------------------------------------------
-- Only the SHA-256 of a key is kept. `hash` is the one index that does not lead with tenant_id:
-- it finds a key before its tenant is known (under Citus this is a reference table).

CREATE TABLE api_keys (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    name          text NOT NULL CONSTRAINT api_keys_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    prefix        text NOT NULL,
    hash          bytea NOT NULL CONSTRAINT api_keys_hash_sha256 CHECK (octet_length(hash) = 32),
    scopes        text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (hash);

-- Persons and faces --------------------------------------------------------------------------

CREATE TABLE persons (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    -- The client's own id for the person.
    id            text NOT NULL CONSTRAINT persons_id_format CHECK (id ~ '^[A-Za-z0-9._:@-]{1,128}$'),
    -- The person key wrapped by the tenant key; deleting the row destroys it.
    wrapped_key   bytea NOT NULL,
    face_count    integer NOT NULL DEFAULT 0 CONSTRAINT persons_face_count_nonnegative CHECK (face_count >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

-- `template` has no typmod: one table holds every tenant (so it can be distributed by tenant_id)
-- and each tenant's model fixes its own dimension, so no single vector(D) fits. Nothing is lost:
-- tenant search is an exact scan (never a shared ANN index, which needs a fixed D and loses
-- recall under a tenant filter), pgvector refuses to compare vectors of different dimensions,
-- and the service writes each tenant's rows at its model's (padded) dimension only.
CREATE TABLE faces (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    person_id     text NOT NULL,
    -- AES-256-GCM(template) under the person's key.
    sealed        bytea NOT NULL,
    -- The tenant-keyed rotation of the template, NULL when the tenant turned it off.
    template      vector,
    quality       real,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX faces_tenant_person ON faces (tenant_id, person_id);
-- A 512-d vector is just over the in-row limit; TOASTed, exact scans ran 3.4-4.5x slower here.
ALTER TABLE faces ALTER COLUMN template SET STORAGE PLAIN;

-- Audit trail --------------------------------------------------------------------------------
-- Append-only: the runtime roles may INSERT and SELECT, never UPDATE, DELETE or TRUNCATE.
-- Each event carries the hash of the tenant's previous event. Platform events that belong to
-- no tenant are recorded under the nil UUID. No foreign key: the trail outlives a purge.

CREATE TABLE audit_events (
    tenant_id     uuid NOT NULL,
    id            bigint GENERATED ALWAYS AS IDENTITY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor         text NOT NULL,
    action        text NOT NULL,
    target        text,
    outcome       text NOT NULL CONSTRAINT audit_events_outcome_known CHECK (outcome IN ('success', 'denied', 'failure')),
    detail        jsonb NOT NULL DEFAULT '{}',
    prev_hash     bytea,
    hash          bytea NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Usage counters -----------------------------------------------------------------------------

CREATE TABLE usage (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    day           date NOT NULL,
    requests      bigint NOT NULL DEFAULT 0,
    enrolls       bigint NOT NULL DEFAULT 0,
    verifies      bigint NOT NULL DEFAULT 0,
    searches      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
);

-- Row-level security -------------------------------------------------------------------------
-- The tenant comes from `set_config('app.tenant_id', $1, true)` in the same transaction. The
-- sub-select makes it an InitPlan evaluated once per statement; NULLIF turns a missing or empty
-- setting into NULL, which matches no row: no tenant means no rows, never an error, never all.
-- FORCE applies the policies to the table owner as well.

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid));
CREATE POLICY operator_plane ON tenants TO enface_admin
    USING (true) WITH CHECK (true);

DO $$
DECLARE
    tbl text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['api_keys', 'persons', 'faces', 'audit_events', 'usage'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tbl);
        EXECUTE format($policy$
            CREATE POLICY tenant_isolation ON %I
                USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid))
                WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid))
        $policy$, tbl);
    END LOOP;
END
$$;

-- The API-key lookup runs before the tenant is known, as the owner (SECURITY DEFINER). These two
-- read-only policies let exactly that happen; the owner could switch RLS off on its own tables
-- anyway, so they grant it nothing new, and no runtime role can act as the owner.
CREATE POLICY api_key_lookup ON api_keys FOR SELECT TO enface_owner USING (true);
CREATE POLICY api_key_lookup ON tenants FOR SELECT TO enface_owner USING (true);

-- Finds a key by the SHA-256 of its text and returns only what authentication needs.
CREATE FUNCTION authenticate_api_key(key_hash bytea)
RETURNS TABLE (tenant_id uuid, key_id uuid, scopes text[], key_status text, tenant_status text)
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
           t.status
      FROM public.api_keys AS k
      JOIN public.tenants AS t ON t.id = k.tenant_id
     WHERE k.hash = key_hash
$$;

-- Privileges ---------------------------------------------------------------------------------
-- enface_app serves tenant requests; enface_admin serves operators and has no privilege at all
-- on persons or faces: operators manage tenants, they cannot read biometric data.

REVOKE ALL ON tenants, api_keys, persons, faces, audit_events, usage FROM PUBLIC;
REVOKE ALL ON FUNCTION authenticate_api_key(bytea) FROM PUBLIC;

GRANT SELECT ON schema_migrations TO enface_app, enface_admin;

GRANT SELECT, UPDATE (settings) ON tenants TO enface_app;
GRANT SELECT, INSERT, UPDATE (name, last_used_at, revoked_at) ON api_keys TO enface_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON persons, faces TO enface_app;
GRANT SELECT, INSERT ON audit_events TO enface_app;
GRANT SELECT, INSERT, UPDATE ON usage TO enface_app;
GRANT EXECUTE ON FUNCTION authenticate_api_key(bytea) TO enface_app;

GRANT SELECT, INSERT,
      UPDATE (name, status, plan, settings, quotas, wrapped_key, key_version,
              activated_at, suspended_at, deleted_at)
   ON tenants TO enface_admin;
GRANT SELECT, INSERT, UPDATE (name, last_used_at, revoked_at) ON api_keys TO enface_admin;
GRANT SELECT, INSERT ON audit_events TO enface_admin;
GRANT SELECT ON usage TO enface_admin;
