-- Compose only: runs once, when the postgres-data volume is created. The suite's own
-- database `prm` comes from POSTGRES_DB; the bus tests of `make test` administer
-- through a database named `test`, as on CI (scripts/services.sh).
CREATE DATABASE test;
