// The whole database's tables as one Kysely type: every service's own (src/<service>/store/
// tables.ts) joined here, at the composition root, since platform code may not import a service.
// Integration tests and fixtures query through it; each store names only its own service's.
import type { IdentityTables } from '../identity/store/tables.ts';
import type { ImageTables } from '../image/store/tables.ts';
import type { ComputeTables } from '../compute/store/tables.ts';

export type CloudTables = IdentityTables & ImageTables & ComputeTables;
