"""Remove one VOD's rows from every table of the lake, in one transaction, and from disk.

A DuckLake delete only hides rows from new snapshots: older snapshots (time travel) and their
Parquet files still hold them. A removal request means the bytes go, so after the delete the
files that held deleted rows are rewritten and every older snapshot is expired and its files
cleaned up (``purge_history``). The cost: tables can no longer be read as they were before."""

from __future__ import annotations

from chatlab.storage.lake import ALIAS, SCHEMA, LakeConfig, _cursor, _retry, current_snapshot, table_names

VOD_COLUMN = "vod_id"


def delete_vod_rows(lake: LakeConfig, vod_id: str, schema: str = SCHEMA) -> dict[str, int]:
    """Delete the rows of ``vod_id`` from every table with a ``vod_id`` column, all in ONE
    transaction (a reader sees the VOD in every table or in none). Returns rows removed per table."""

    def run() -> dict[str, int]:
        con = _cursor(lake)
        try:
            con.execute("BEGIN")
            removed: dict[str, int] = {}
            for table in sorted(table_names(con, schema)):
                cols = {r[0] for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND table_schema = ? "
                    "AND table_name = ?", [ALIAS, schema, table]).fetchall()}
                if VOD_COLUMN not in cols:
                    continue
                qualified = f'{schema}."{table}"'
                n = con.execute(f'SELECT count(*) FROM {qualified} WHERE "{VOD_COLUMN}" = ?', [vod_id]).fetchone()[0]
                if n:
                    # A new table rather than a DELETE: the catalog keeps per-table min/max
                    # statistics, which could be one of this VOD's messages; a new table has fresh ones.
                    con.execute(f'CREATE OR REPLACE TABLE {qualified} AS SELECT * FROM {qualified} '
                                f'WHERE "{VOD_COLUMN}" IS DISTINCT FROM ?', [vod_id])
                removed[table] = int(n)
            con.execute("COMMIT")
            return removed
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - the original error is the one to raise
                pass
            raise
        finally:
            con.close()

    return _retry(run, what=f"forget {vod_id!r}")


def purge_history(lake: LakeConfig) -> int:
    """Rewrite files with deleted rows, expire every snapshot before the current one and delete
    the files only they used: deleted rows leave the disk. Returns the snapshot kept."""

    def run() -> int:
        con = _cursor(lake)
        try:
            con.execute(f"CALL ducklake_rewrite_data_files('{ALIAS}', delete_threshold => 0)")
            con.execute(f"CALL ducklake_expire_snapshots('{ALIAS}', older_than => now())")
            con.execute(f"CALL ducklake_cleanup_old_files('{ALIAS}', cleanup_all => true)")
            return current_snapshot(con)
        finally:
            con.close()

    kept = _retry(run, what="purge the lake's history")
    if lake.kind == "sqlite":  # deleted catalog rows stay in SQLite's free pages until a VACUUM
        import sqlite3

        db = sqlite3.connect(lake.target, timeout=30)
        try:
            db.execute("VACUUM")
        finally:
            db.close()
    return kept
