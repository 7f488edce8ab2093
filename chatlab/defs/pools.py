"""The pools the assets use, and their limits set on an instance before its first run.

With `concurrency.pools.default_limit` in dagster.yaml, Dagster creates a pool's limit the first time
a step claims the pool. On PostgreSQL two runs that claim the same new pool at once make one of them
fail (dagster-io/dagster#33552, open in Dagster 1.13: the second insert's unique violation aborts the
transaction, and the update that was meant to follow fails). A limit set explicitly is not created
again at claim time, so a cluster sets every pool's limit once, before its first run.
"""

import dagster as dg


def asset_pools(defs: dg.Definitions) -> list[str]:
    pools = {getattr(a.op, "pool", None) for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)}
    return sorted(p for p in pools if p)


def set_pool_limits(instance: dg.DagsterInstance, pools: list[str]) -> dict[str, str]:
    """Give each pool without a limit of its own the instance's default limit; what each pool has then."""
    default = instance.global_op_concurrency_default_limit
    have = {p.name: p for p in instance.event_log_storage.get_pool_limits()}
    out = {}
    for pool in pools:
        known = have.get(pool)
        if known is not None and not known.from_default:
            out[pool] = f"{known.limit} (set before, kept)"
        elif default is None:
            out[pool] = "no limit (dagster.yaml sets no concurrency.pools.default_limit)"
        else:
            instance.event_log_storage.set_concurrency_slots(pool, default)
            out[pool] = f"{default} (set now: dagster.yaml's default_limit)"
    return out
