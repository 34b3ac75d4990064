import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import {
  createDemoHub,
  FIXTURE_TOKENS,
  handleHubRequest,
  MockHub,
} from '@model-hub/mock-hf-server';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The plugin id; the mock Hub answers under `/api/mock-hf`. */
export const DEMO_MOCK_HUB_PLUGIN_ID = 'mock-hf';

/** The largest request body the mock Hub reads (its API takes small JSON). */
const MAX_BODY_BYTES = 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  if (req.method === 'GET' || req.method === 'HEAD') {
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      throw Object.assign(new Error('Request body too large'), {
        status: 413,
      });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Serves a MockHub on a Node request under `baseUrl` (the mount point of the
 * handler): the same request → response core as the mock's own server.
 */
export function createMockHubHandler(hub: MockHub, baseUrl: string) {
  const base = baseUrl.replace(/\/+$/, '');
  return async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const result = await handleHubRequest(
        hub,
        {
          method: req.method ?? 'GET',
          // req.url is relative to the mount point
          url: `${base}${req.url ?? '/'}`,
          headers: req.headers,
          body: await readBody(req),
        },
        // the demo is development-only: its test routes (`/_test/`, a new
        // upstream commit for the browser tests) answer the mock's admin token
        { baseUrl: base, testRoutes: true },
      );
      if (result.resetConnection) {
        req.socket.destroy();
        return;
      }
      res.writeHead(result.status, result.headers);
      for (const chunk of result.body ?? []) {
        if (res.destroyed) {
          return;
        }
        if (!res.write(chunk)) {
          await new Promise<void>(resolve => {
            const done = () => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          });
        }
      }
      res.end();
    } catch (error) {
      const status = (error as { status?: number }).status ?? 500;
      if (!res.headersSent) {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: String((error as Error).message) }));
      } else {
        res.destroy();
      }
    }
  };
}

/**
 * DEMO ONLY: the bundled mock Hugging Face Hub, in the backend process, at
 * `<backend>/api/mock-hf` (`createDemoHub` of `@model-hub/mock-hf-server`:
 * acme/tiny-llm with several revisions, the gated gated-org/gated-llm, the
 * 64 MiB acme/big-model and the other fixture repos). The demo config
 * switches it on with `demo.mockHuggingFaceHub.enabled` and points
 * `modelHub.huggingface.endpoint` at it, so the import page works offline.
 * It serves nothing unless switched on, and refuses to start outside
 * `auth.environment: development` or with NODE_ENV=production.
 */
export const demoMockHubPlugin = createBackendPlugin({
  pluginId: DEMO_MOCK_HUB_PLUGIN_ID,
  register(reg) {
    reg.registerInit({
      deps: {
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        httpRouter: coreServices.httpRouter,
        discovery: coreServices.discovery,
      },
      async init({ config, logger, httpRouter, discovery }) {
        if (!config.getOptionalBoolean('demo.mockHuggingFaceHub.enabled')) {
          return;
        }
        if (
          process.env.NODE_ENV === 'production' ||
          config.getOptionalString('auth.environment') !== 'development'
        ) {
          throw new Error(
            'demo.mockHuggingFaceHub.enabled is for the demo portal only: it needs auth.environment: development and NODE_ENV other than production',
          );
        }
        const hub = createDemoHub();
        // hash the generated files once, before the first request
        hub.warmUp();
        const baseUrl = await discovery.getExternalBaseUrl(
          DEMO_MOCK_HUB_PLUGIN_ID,
        );
        // Hub clients authenticate with hf_ tokens of the mock, not with
        // Backstage credentials
        httpRouter.addAuthPolicy({ path: '/', allow: 'unauthenticated' });
        httpRouter.use(createMockHubHandler(hub, baseUrl));
        logger.info(
          `Demo mock Hugging Face Hub at ${baseUrl} (${hub
            .listRepoIds()
            .join(', ')}); tokens ${FIXTURE_TOKENS.admin} (everything), ${
            FIXTURE_TOKENS.granted
          } (granted the gated repo)`,
        );
      },
    });
  },
});
