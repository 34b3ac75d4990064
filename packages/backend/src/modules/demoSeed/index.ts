import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { DEMO_VERSIONS, DemoTarget, DemoVersion } from './plan';
import { seedDemo } from './seed';

export { seedDemo } from './seed';
export type { DemoSeedOptions, DemoSeedResult } from './seed';
export { DEMO_HF_REPO, DEMO_VERSIONS } from './plan';

/**
 * DEMO ONLY: seeds the demo portal's Model Hub on start, through its REST
 * API as the example users: versions of the example Models approved and
 * active, in review, with changes requested, a draft whose safety check
 * failed, a deprecated one, and a registered repo of the bundled mock Hub
 * (sync jobs). Idempotent: it looks at what is there and only does what is
 * missing, so it runs on every start. Switched on by `demo.seed.enabled`
 * (the demo config); needs the development header sign-in
 * (`modelHub.devAuth.enabled`), and refuses outside
 * `auth.environment: development` or with NODE_ENV=production.
 */
export const modelHubModuleDemoSeed = createBackendModule({
  pluginId: 'model-hub',
  moduleId: 'demo-seed',
  register(reg) {
    reg.registerInit({
      deps: {
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        discovery: coreServices.discovery,
        lifecycle: coreServices.rootLifecycle,
      },
      async init({ config, logger, discovery, lifecycle }) {
        if (!config.getOptionalBoolean('demo.seed.enabled')) {
          return;
        }
        if (
          process.env.NODE_ENV === 'production' ||
          config.getOptionalString('auth.environment') !== 'development'
        ) {
          throw new Error(
            'demo.seed.enabled is for the demo portal only: it needs auth.environment: development and NODE_ENV other than production',
          );
        }
        if (!config.getOptionalBoolean('modelHub.devAuth.enabled')) {
          logger.warn(
            'Demo seed skipped: it signs in as the example users through the development header sign-in (modelHub.devAuth.enabled)',
          );
          return;
        }
        const appUrl = config.getOptionalString('app.baseUrl');
        const backendUrl = config.getOptionalString('backend.baseUrl');
        const [authBaseUrl, hubBaseUrl, catalogBaseUrl] = await Promise.all([
          discovery.getBaseUrl('auth'),
          discovery.getBaseUrl('model-hub'),
          discovery.getBaseUrl('catalog'),
        ]);
        // after start-up, in the background: the seed calls this backend
        lifecycle.addStartupHook(() => {
          const started = Date.now();
          seedDemo({ authBaseUrl, hubBaseUrl, catalogBaseUrl, logger }).then(
            ({ steps, problems }) => {
              logger.info(
                steps.length
                  ? `Demo seed: ${steps.length} steps in ${
                      Date.now() - started
                    } ms${
                      problems.length ? `, ${problems.length} problems` : ''
                    }`
                  : `Demo seed: the demo data is in place${
                      problems.length ? ` (${problems.length} problems)` : ''
                    }`,
              );
              logger.info(demoTour(appUrl, backendUrl));
            },
            error => logger.error('Demo seed failed', error),
          );
        });
      },
    });
  },
});

/**
 * Where to start in the seeded demo (logged once the seed is done: the
 * terminal is what a new user reads first): who to sign in as, what the
 * seed left waiting for them ({@link DEMO_VERSIONS}), and how a Hugging
 * Face client reads an approved version.
 */
export function demoTour(
  appUrl = 'http://localhost:3000',
  backendUrl = 'http://localhost:7007',
): string {
  const first = (target: DemoTarget) =>
    DEMO_VERSIONS.find(v => v.target === target)!;
  const at = (v: DemoVersion) => `${v.model} ${v.label}`;
  const inReview = first('in_review');
  const changes = first('changes_requested');
  const active = first('active');
  const draft = first('draft');
  return [
    `Model Hub demo ready: open ${appUrl} and sign in as an example user (README.md, "Demo"):`,
    `  bob (ml-reviewers): Model Hub > Approvals, ${at(
      inReview,
    )} waits in his review queue;`,
    `  alice (ml-engineers): uploads a file into a new version under Model Hub > Upload and submits it; ${at(
      changes,
    )} has bob's change request;`,
    `  carol (no group, read only): creates a token at ${appUrl}/model-hub/access-tokens; only approved versions are served:`,
    `    HF_ENDPOINT=${backendUrl}/api/model-hub/hf HF_TOKEN=hf_... huggingface-cli download default/${active.model} --revision ${active.label}`,
    `  dana (ml-admins): everything, e.g. the audit; ${at(
      draft,
    )} is a draft whose pickle safety check failed.`,
  ].join('\n');
}
