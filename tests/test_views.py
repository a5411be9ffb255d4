"""Published views as repeatable SQL files (portail/sql/views), re-applied when their text changes."""
from __future__ import annotations

import psycopg
import pytest

from portail.errors import UserError
from portail.migrate import apply_views, available_views, migrate


@pytest.mark.unit
def test_views_come_after_every_view_they_name():
    seen = set()
    for view in available_views():
        assert view.depends_on <= seen, view.name
        seen.add(view.name)
    names = {v.name for v in available_views()}
    assert "diffusion.parc_residence" in names and "core.territoire" in names
    assert {"core.parc_par_residence"} <= next(v for v in available_views()
                                               if v.name == "diffusion.parc_residence").depends_on


def _rebuild(settings):
    with psycopg.connect(settings.admin_dsn(), autocommit=True) as conn:
        conn.execute("SET ROLE lls_owner")
        return apply_views(conn, verbose=False)


def _oid(conn, name):
    return conn.execute("SELECT %s::regclass::oid", [name]).fetchone()[0]


def test_a_second_migration_rebuilds_nothing(fresh_database):
    assert migrate(fresh_database, verbose=False) == []
    assert _rebuild(fresh_database) == []


def test_a_changed_view_is_rebuilt_with_its_dependents_only(fresh_database):
    with psycopg.connect(fresh_database.admin_dsn(), autocommit=True) as conn:
        conn.execute("UPDATE portail_meta.repeatable_view SET checksum = 'changed' "
                     "WHERE name = 'core.parc_territoire_publie'")
        untouched = _oid(conn, "diffusion.parc_residence")
        before = _oid(conn, "diffusion.parc_iris")
    rebuilt = _rebuild(fresh_database)
    assert rebuilt == ["core.parc_territoire_publie", "diffusion.parc_commune",
                       "diffusion.parc_iris", "diffusion.parc_mel", "diffusion.parc_qpv"]
    with psycopg.connect(fresh_database.admin_dsn(), autocommit=True) as conn:
        assert _oid(conn, "diffusion.parc_residence") == untouched
        assert _oid(conn, "diffusion.parc_iris") != before
        # the service role still reads the rebuilt views (default privileges of diffusion)
        acl = conn.execute("SELECT relacl::text FROM pg_class WHERE oid = "
                           "'diffusion.parc_iris'::regclass").fetchone()[0]
        assert "lls_service=r/" in acl


def test_a_view_dropped_by_a_migration_is_built_again(fresh_database):
    with psycopg.connect(fresh_database.owner_dsn(), autocommit=True) as conn:
        conn.execute("DROP MATERIALIZED VIEW core.parc_par_residence CASCADE")
    rebuilt = _rebuild(fresh_database)
    assert rebuilt[0] == "core.parc_par_residence"
    assert {"core.parc_par_territoire", "diffusion.parc_residence",
            "diffusion.parc_iris"} <= set(rebuilt)
    assert _rebuild(fresh_database) == []


def test_an_unknown_dependent_stops_the_rebuild_by_name(fresh_database):
    with psycopg.connect(fresh_database.owner_dsn(), autocommit=True) as conn:
        conn.execute("CREATE VIEW core.quelque_chose AS SELECT id FROM diffusion.parc_mel")
        conn.execute("UPDATE portail_meta.repeatable_view SET checksum = 'changed' "
                     "WHERE name = 'diffusion.parc_mel'")
    with pytest.raises(UserError) as refused:
        _rebuild(fresh_database)
    assert "core.quelque_chose" in str(refused.value)
    with psycopg.connect(fresh_database.owner_dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM portail_meta.repeatable_view "
                            "WHERE checksum = 'changed'").fetchone()[0] == 1   # rolled back
        conn.execute("DROP VIEW core.quelque_chose")
    assert _rebuild(fresh_database) == ["diffusion.parc_mel"]
