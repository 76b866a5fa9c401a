"""On PostgreSQL, the throttle's counting statement as a function, so its plan is kept.

Sent as text, the statement that locks, checks and counts a reservation's
rows was parsed and planned anew on every sign-in step, which cost more
than running it. A PL/pgSQL function keeps its plan for the life of the
database connection. It lives in the database, not in a session, so it
works the same behind a connection pooler in transaction mode. Other
databases count row by row and need nothing here.
"""

from django.db import migrations

FUNCTION = "authy2fa_throttle_take"

# The generic plan is fixed: a nested loop over the few wanted rows, through
# the unique index (scope, key, window_start). Letting PostgreSQL re-plan each
# call for its parameters would cost as much as sending the statement as text.
CREATE = """
CREATE OR REPLACE FUNCTION {function}(
    p_scopes varchar[], p_keys varchar[], p_starts timestamptz[], p_rooms integer[],
    p_block_ends timestamptz[], p_blocking_scopes varchar[], p_blocking_keys varchar[],
    p_now timestamptz
) RETURNS TABLE (
    r_id bigint, r_scope varchar, r_key varchar, r_start timestamptz, r_count integer,
    r_blocked_until timestamptz, r_counted bigint
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $body$
BEGIN
    RETURN QUERY
    WITH wanted AS (
        SELECT w.scope, w.key, w.window_start, w.room, w.block_end
        FROM unnest(p_scopes, p_keys, p_starts, p_rooms, p_block_ends)
            AS w (scope, key, window_start, room, block_end)
    ), blocking AS (
        SELECT b.scope, b.key FROM unnest(p_blocking_scopes, p_blocking_keys) AS b (scope, key)
    ), locked AS MATERIALIZED (
        -- Sorted before locking, bytewise as Python sorts the slots: every
        -- reservation locks shared rows in the same order.
        SELECT t.{id}, t.{scope}, t.{key}, t.{start}, t.{count}, t.{blocked}
        FROM {table} t
        WHERE t.{id} IN (
            SELECT s.{id} FROM wanted w JOIN {table} s
                ON (s.{scope}, s.{key}, s.{start}) = (w.scope, w.key, w.window_start)
            UNION ALL
            -- A block may outlast the window that set it: any window of the key counts.
            SELECT s.{id} FROM blocking b JOIN {table} s
                ON (s.{scope}, s.{key}) = (b.scope, b.key)
            WHERE s.{blocked} > p_now
        )
        ORDER BY t.{scope} COLLATE "C", t.{key} COLLATE "C", t.{start}
        FOR UPDATE OF t
    ), matched AS (
        SELECT l.{id}, l.{count}, w.room, w.block_end FROM locked l JOIN wanted w
            ON (l.{scope}, l.{key}, l.{start}) = (w.scope, w.key, w.window_start)
    ), counted AS (
        -- All or nothing: every wanted row there, none full, no key blocked.
        -- The event that reaches a blocking rule's limit starts its block.
        UPDATE {table} t
        SET {count} = t.{count} + 1,
            {blocked} = CASE WHEN m.block_end IS NOT NULL AND t.{count} + 1 >= m.room
                        THEN m.block_end ELSE t.{blocked} END
        FROM matched m
        WHERE t.{id} = m.{id}
          AND (SELECT count(*) FROM matched) = cardinality(p_scopes)
          AND NOT EXISTS (SELECT 1 FROM matched f WHERE f.{count} >= f.room)
          AND NOT EXISTS (
              SELECT 1 FROM locked l JOIN blocking b ON (l.{scope}, l.{key}) = (b.scope, b.key)
              WHERE l.{blocked} > p_now)
        RETURNING t.{id}
    )
    SELECT l.{id}::bigint, l.{scope}, l.{key}, l.{start}, l.{count}, l.{blocked},
           (SELECT count(*) FROM counted)
    FROM locked l;
END
$body$
"""

DROP = (
    "DROP FUNCTION IF EXISTS {function}(varchar[], varchar[], timestamptz[], integer[], "
    "timestamptz[], varchar[], varchar[], timestamptz)"
)


def _names(apps, schema_editor) -> dict[str, str]:
    model = apps.get_model("django_authy2fa", "ThrottleWindow")
    quote = schema_editor.quote_name

    def column(name: str) -> str:
        return quote(model._meta.get_field(name).column)

    return {
        "function": FUNCTION,
        "table": quote(model._meta.db_table),
        "id": quote(model._meta.pk.column),
        "scope": column("scope"),
        "key": column("key"),
        "start": column("window_start"),
        "count": column("count"),
        "blocked": column("blocked_until"),
    }


def create_function(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE.format(**_names(apps, schema_editor)), params=None)


def drop_function(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP.format(function=FUNCTION), params=None)


class Migration(migrations.Migration):
    dependencies = [("django_authy2fa", "0006_totp_devices")]

    operations = [
        migrations.RunPython(
            create_function,
            drop_function,
            elidable=False,
            # A router that places models per database sends this with the table.
            hints={"model_name": "throttlewindow"},
        )
    ]
