"""Database triggers that keep `Bag.held_at_hospital` true below the ORM.

The calculator and the allocation find a hospital's stock by the hospital a bag is held
at (`Bag.held_at_hospital`) instead of joining the hospital's storage positions: the
column is derived from the bag's position (`Bag.keep_held_at`, on every save and bulk
insert). A wrong value would show a pharmacist bags that are not in their tank, or hide
bags that are, so the database itself refuses a bag row whose column is not its
position's hospital (none without a position, or at a facility's), and a change of a
position's site while a bag is in it. A raw UPDATE, a DBA's console or a data migration
that forgets the column is refused, on SQLite and PostgreSQL alike.

The migration `0010_bag_held_at_hospital` installs them. A later change to the SQL here
needs a new migration that calls `install()` again; a later migration that rebuilds
`batches_bag` on SQLite (Django copies the table, dropping its triggers) must install them
again too — `tests/batches/test_bag_held_at.py` fails until it does.
"""

from __future__ import annotations

_PG = [
    """
CREATE OR REPLACE FUNCTION celltrack_bag_held_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.held_at_hospital_id IS DISTINCT FROM (
        SELECT hospital_id FROM batches_storagelocation WHERE id = NEW.location_id
    ) THEN
        RAISE EXCEPTION 'bag %: held_at_hospital_id must be the hospital of its position',
            NEW.code USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$
""",
    """
CREATE OR REPLACE FUNCTION celltrack_position_site_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.hospital_id IS DISTINCT FROM OLD.hospital_id
       AND EXISTS (SELECT 1 FROM batches_bag WHERE location_id = OLD.id) THEN
        RAISE EXCEPTION 'position %: a position holding a bag stays at its site',
            OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$
""",
    "DROP TRIGGER IF EXISTS batches_bag_held_at ON batches_bag",
    "CREATE TRIGGER batches_bag_held_at BEFORE INSERT OR UPDATE OF location_id, "
    "held_at_hospital_id ON batches_bag FOR EACH ROW EXECUTE FUNCTION celltrack_bag_held_at()",
    "DROP TRIGGER IF EXISTS batches_position_site_fixed ON batches_storagelocation",
    "CREATE TRIGGER batches_position_site_fixed BEFORE UPDATE OF hospital_id ON "
    "batches_storagelocation FOR EACH ROW EXECUTE FUNCTION celltrack_position_site_fixed()",
]

_PG_UNINSTALL = [
    "DROP TRIGGER IF EXISTS batches_bag_held_at ON batches_bag",
    "DROP TRIGGER IF EXISTS batches_position_site_fixed ON batches_storagelocation",
    "DROP FUNCTION IF EXISTS celltrack_bag_held_at()",
    "DROP FUNCTION IF EXISTS celltrack_position_site_fixed()",
]

_SQLITE = [
    """
CREATE TRIGGER IF NOT EXISTS batches_bag_held_at_insert BEFORE INSERT ON batches_bag
WHEN NEW.held_at_hospital_id IS NOT (
    SELECT hospital_id FROM batches_storagelocation WHERE id = NEW.location_id
)
BEGIN SELECT RAISE(ABORT, 'held_at_hospital_id must be the hospital of its position'); END
""",
    """
CREATE TRIGGER IF NOT EXISTS batches_bag_held_at_update
BEFORE UPDATE OF location_id, held_at_hospital_id ON batches_bag
WHEN NEW.held_at_hospital_id IS NOT (
    SELECT hospital_id FROM batches_storagelocation WHERE id = NEW.location_id
)
BEGIN SELECT RAISE(ABORT, 'held_at_hospital_id must be the hospital of its position'); END
""",
    """
CREATE TRIGGER IF NOT EXISTS batches_position_site_fixed
BEFORE UPDATE OF hospital_id ON batches_storagelocation
WHEN NEW.hospital_id IS NOT OLD.hospital_id
    AND EXISTS (SELECT 1 FROM batches_bag WHERE location_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'a position holding a bag stays at its site'); END
""",
]

_SQLITE_UNINSTALL = [
    "DROP TRIGGER IF EXISTS batches_bag_held_at_insert",
    "DROP TRIGGER IF EXISTS batches_bag_held_at_update",
    "DROP TRIGGER IF EXISTS batches_position_site_fixed",
]


def _statements(connection, *, installing: bool) -> list[str]:
    if connection.vendor == "postgresql":
        return _PG if installing else _PG_UNINSTALL
    if connection.vendor == "sqlite":
        return _SQLITE if installing else _SQLITE_UNINSTALL
    raise NotImplementedError(f"No held-at triggers for {connection.vendor}.")


def install(connection) -> None:
    with connection.cursor() as cursor:
        for statement in _statements(connection, installing=True):
            cursor.execute(statement)


def uninstall(connection) -> None:
    with connection.cursor() as cursor:
        for statement in _statements(connection, installing=False):
            cursor.execute(statement)
