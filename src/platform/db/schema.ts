// The table the platform itself owns, and the conventions every service's tables follow. Each
// service declares its own tables beside its stores (src/<service>/store/tables.ts); only the
// composition root (src/cli/tables.ts) joins them into the type of the whole database.
// Conventions, identical on SQLite and PostgreSQL: booleans are 0/1 integers, times are epoch
// milliseconds (bigint), structured extras are JSON text.

/** Small key/value facts about this deployment (identity's token key ring and bootstrap, compute's
 * one-time seeds): one table every service's stores may name, each under keys of its own. */
export interface MetaTable {
  key: string;
  value: string;
}

/** The platform's tables, which a service's tables type extends when its stores use them. */
export interface PlatformTables {
  meta: MetaTable;
}
