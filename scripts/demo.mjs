// Starts the demo portal: frontend on :3000, backend on :7007, with the
// embedded defaults of app-config.yaml: SQLite files under ./data, the
// example users' sign-in, the bundled mock Hugging Face Hub (in the backend,
// /api/mock-hf) and the demo data, seeded on start.
//
//   npm run demo                 start (the data of earlier runs is kept)
//   npm run demo -- --reset      delete ./data first: a fresh demo
//
// Other arguments are passed on to `yarn start`, e.g.
// `npm run demo -- --config ../../app-config.yaml --config ../../my-overlay.yaml`.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { root, yarn } from './env.mjs';

const args = process.argv.slice(2);
if (args.includes('--reset')) {
  const data = path.join(root, 'data');
  rmSync(data, { recursive: true, force: true });
  console.log(
    `Demo reset: deleted ${data}; the demo data is seeded again on start`,
  );
}

process.exit(await yarn(['start', ...args.filter(a => a !== '--reset')]));
