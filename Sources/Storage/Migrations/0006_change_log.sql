-- The change channel carries no data. PostgreSQL has no permissions on LISTEN/NOTIFY: any role
-- that can log in may listen to `enface_faces` and notify on it. Until now each notice held a
-- tenant id, a person id and a face id, and nodes applied what a notice said. From here on a
-- notice is only a wake-up (an opaque tag naming no one: see ChangeNotice), and a node applies
-- only what it reads back from this log, under the tenant's row-level security, in the order
-- the tenant's counter gave. A forged or replayed notice costs one cheap read.

CREATE TABLE face_changes (
    tenant_id   uuid NOT NULL,
    -- The tenant's change counter (tenants.change_seq) as this change took it: gapless, in
    -- commit order, because every change takes it by updating the tenant's row.
    seq         bigint NOT NULL,
    operation   text NOT NULL CONSTRAINT face_changes_operation_known CHECK (operation IN ('add', 'remove', 'remove_person')),
    face_id     uuid,
    person_id   text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, seq),
    CONSTRAINT face_changes_face_named CHECK ((operation = 'remove_person') = (face_id IS NULL))
);

ALTER TABLE face_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE face_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON face_changes
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid));

REVOKE ALL ON face_changes FROM PUBLIC;
-- The app role writes each change with it and trims the tenant's log as it goes (FaceRepository);
-- operators have no business with it (it names persons).
GRANT SELECT, INSERT, DELETE ON face_changes TO enface_app;

-- A purged tenant leaves no log behind.
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
    DELETE FROM public.api_keys WHERE tenant_id = target;
    DELETE FROM public.usage WHERE tenant_id = target;
    UPDATE public.tenants SET wrapped_key = NULL, purged_at = now() WHERE id = target;
    RETURN true;
END
$$;
