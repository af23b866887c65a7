-- Every change to a tenant's faces takes the next number of the tenant's change counter, in the
-- same UPDATE that counts its faces, and is announced on the `enface_faces` channel when it
-- commits. Nodes apply the announcements to their shards in order; a node that missed some
-- (its listener connection dropped) compares its number with this one and reloads the tenant.
ALTER TABLE tenants ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;
GRANT UPDATE (change_seq) ON tenants TO enface_app;
