-- Faces a tenant holds, kept on the tenant's row so that the tenant's face quota holds under
-- concurrency: an enroll takes a face with one conditional UPDATE (`face_count < maxFaces`),
-- which waits for a concurrent enroll's commit and then re-checks, instead of counting rows
-- and racing. Persons already count their faces the same way (persons.face_count).
ALTER TABLE tenants ADD COLUMN face_count bigint NOT NULL DEFAULT 0
    CONSTRAINT tenants_face_count_nonnegative CHECK (face_count >= 0);
GRANT UPDATE (face_count) ON tenants TO enface_app;
