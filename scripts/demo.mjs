// Starts the demo portal: frontend on :3000, backend on :7007, with the
// embedded defaults of app-config.yaml (SQLite files under ./data).
// Extra arguments are passed on, e.g. `npm run demo -- --config ../../app-config.e2e.yaml`.
import { yarn } from './env.mjs';

process.exit(await yarn(['start', ...process.argv.slice(2)]));
