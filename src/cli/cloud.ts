// Composition root of the API process: opens the database, builds the services with their
// dependencies, bootstraps on first start, and mounts every API on one Fastify instance. Used by
// `nubes up`, `nubes serve api` and the integration tests (which call inject() on the result).
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import type { Logger } from '../platform/log.ts';
import { openDatabase, type Database } from '../platform/db/database.ts';
import type { CloudTables } from './tables.ts';
import { createHttpServer } from '../platform/http/server.ts';
import { FaultFamilies } from '../platform/http/faults.ts';
import { Policy } from '../platform/policy/policy.ts';
import { createIdentity, type Identity } from '../identity/index.ts';
import { mountIdentityApi, identityVersions, IDENTITY_PREFIX } from '../identity/api/index.ts';
import { bootstrapIdentity, type BootstrapResult } from '../identity/bootstrap.ts';
import { createImageService, type ImageService } from '../image/index.ts';
import { mountImageApi, IMAGE_PREFIX } from '../image/api/index.ts';
import { createFileBackend } from '../image/backend/file.ts';
import { createDiskInspector } from '../image/service/disk-inspector.ts';
import {
  createComputeService,
  DEFAULT_COMPUTE_CONFIG,
  type ComputeService,
} from '../compute/index.ts';
import { mountComputeApi, COMPUTE_PREFIX } from '../compute/api/index.ts';
import { imagePortOf } from './image-port.ts';
import { imageDataForAgents } from './image-transfer.ts';
import { Unavailable } from '../platform/errors.ts';

export interface Cloud {
  readonly app: FastifyInstance;
  readonly identity: Identity;
  readonly image: ImageService;
  readonly compute: ComputeService;
  readonly database: Database<CloudTables>;
  readonly bootstrap: BootstrapResult;
  close(): Promise<void>;
}

/** The services Nubes serves and publishes in the catalog, with their path prefixes. */
export function servedServices(publicUrl: string) {
  return [
    {
      type: 'identity',
      name: 'keystone',
      description: 'Nubes Identity (Keystone v3 API)',
      url: `${publicUrl}${IDENTITY_PREFIX}`,
    },
    {
      type: 'image',
      name: 'glance',
      description: 'Nubes Image (Glance v2 API)',
      url: `${publicUrl}${IMAGE_PREFIX}`,
    },
    {
      type: 'compute',
      name: 'nova',
      description: 'Nubes Compute (Nova v2.1 API)',
      url: `${publicUrl}${COMPUTE_PREFIX}/v2.1`,
    },
  ];
}

/** `mount` adds routes of this process's own (the console proxy of `nubes up`) before the server is ready. */
export async function buildCloud(
  config: Config,
  log: Logger,
  opts: { adminPassword: string; mount?: (app: FastifyInstance) => void },
): Promise<Cloud> {
  const database = await openDatabase<CloudTables>(config.database);
  try {
    const policy = new Policy();
    if (config.policyFile) policy.loadOverrideFile(config.policyFile);
    const identity = createIdentity({ db: database.handle, policy, config: config.identity });
    const bootstrap = await bootstrapIdentity(database.handle, {
      adminPassword: opts.adminPassword,
      region: config.region,
      services: servedServices(config.publicUrl),
      argon2: config.identity.argon2,
    });
    const image = createImageService({
      db: database.handle,
      policy,
      log: log.child({ svc: 'image' }),
      config: config.image,
      backend: createFileBackend(config.image.storeDir),
      staging: createFileBackend(config.image.stagingDir),
      inspector: createDiskInspector(),
    });
    // Uploads and imports cut off by a stop of the process that ran them go back to 'queued', now
    // and every transfer_sweep_seconds (the same sweep: another replica may stop at any time).
    await image.transfers.sweep();
    const compute = createComputeService({
      db: database.handle,
      policy,
      config: DEFAULT_COMPUTE_CONFIG,
      images: imagePortOf(image),
      imageData: imageDataForAgents(image, config.image.stagingDir),
      log: log.child({ svc: 'compute' }),
    });
    await compute.seed();
    const faults = new FaultFamilies();
    const app = createHttpServer({ log, faults });
    mountIdentityApi(app, identity, { publicUrl: config.publicUrl, faults });
    const apiOpts = {
      publicUrl: config.publicUrl,
      faults,
      authenticate: identity.authenticate,
      identityUrl: `${config.publicUrl}${IDENTITY_PREFIX}`,
    };
    mountImageApi(app, image, apiOpts);
    mountComputeApi(app, compute, apiOpts);
    // The root answers like Keystone's, so a client pointed at the bare URL still finds identity.
    app.get('/', async (_request, reply) =>
      reply.code(300).send(identityVersions(`${config.publicUrl}${IDENTITY_PREFIX}`)),
    );
    app.get('/healthcheck', async () => 'OK');
    opts.mount?.(app);
    const pruner = setInterval(() => {
      identity.tokens
        .pruneRevocations()
        .catch((err: unknown) => log.warn({ err }, 'pruning revocation events failed'));
    }, 600_000);
    pruner.unref();
    const transferSweeper = setInterval(() => {
      image.transfers
        .sweep()
        .catch((err: unknown) => log.warn({ err }, 'sweeping stalled image transfers failed'));
    }, config.image.transferSweepMs);
    transferSweeper.unref();
    await app.ready();
    return {
      app,
      identity,
      image,
      compute,
      database,
      bootstrap,
      async close() {
        clearInterval(pruner);
        clearInterval(transferSweeper);
        await app.close();
        // Imports may convert for hours: they stop with the process, and a sweep recovers them.
        image.transfers.cancelAll(
          new Unavailable(
            'The import stopped with the api process that ran it; stage the data and import again.',
            'image_import_interrupted',
          ),
        );
        await image.data.drain();
        await database.close();
      },
    };
  } catch (e) {
    await database.close();
    throw e;
  }
}
