/*
 * The upstream of the mirror-coalesce benchmark, in its own process: the
 * mock Hugging Face Hub (@model-hub/mock-hf-server) over HTTP with one repo
 * `acme/big-model` holding a generated LFS file of BENCH_SIZE_MIB (paced to
 * BENCH_UPSTREAM_MIBS per connection when set), and a stats endpoint on the
 * next port that reports the GETs of that file from the mock Hub's request
 * log. Its own process, so that generating the bytes never holds up the
 * backend's event loop.
 *
 * Usage: node -r @backstage/cli/config/nodeTransform.cjs upstream.ts <statsPort>
 * Prints `READY <json>` once both listen.
 */
/* eslint-disable no-console */
import { createServer } from 'node:http';
import {
  bigFileRepo,
  createMockHfServer,
  MockHub,
} from '@model-hub/mock-hf-server';

export const REPO = 'acme/big-model';
export const FILE = 'model.safetensors';

async function main() {
  const statsPort = Number(process.argv[2]);
  const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 1024);
  const rateMiBs = Number(process.env.BENCH_UPSTREAM_MIBS ?? 0);
  const hub = new MockHub();
  hub.addRepo(bigFileRepo(sizeMiB * 1024 * 1024, REPO));
  const info = hub.fileInfo(REPO, FILE)!;
  const upstream = await createMockHfServer({
    hub,
    ...(rateMiBs > 0 && { rateLimitBytesPerSec: rateMiBs * 1024 * 1024 }),
  });
  const stats = createServer((req, res) => {
    if (req.method === 'POST') {
      // the seeding is done: count from here
      hub.clearRequests();
      res.end('{}');
      return;
    }
    const gets = hub.findRequests({
      method: 'GET',
      path: `/${REPO}/resolve/*/${FILE}`,
    });
    res.setHeader('Content-Type', 'application/json');
    res.end(
      JSON.stringify({
        fileGets: gets.map(g => ({ range: g.range, status: g.status })),
      }),
    );
  });
  await new Promise<void>(resolve =>
    stats.listen(statsPort, '127.0.0.1', () => resolve()),
  );
  console.log(
    `READY ${JSON.stringify({
      url: upstream.url,
      fileUrl: `${upstream.url}/${REPO}/resolve/main/${FILE}`,
      sha256: info.sha256,
      size: info.size,
      stats: `http://127.0.0.1:${statsPort}/`,
    })}`,
  );
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
