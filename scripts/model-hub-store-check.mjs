#!/usr/bin/env node
// Checks the artifact store of a Model Hub portal (issue 17): the backend
// re-hashes every blob and reports the missing, corrupt and unreferenced
// ones. Nothing is changed.
//
//   node scripts/model-hub-store-check.mjs --url http://localhost:7007 [--limit 100] [--json]
//
// Credentials: --token <token> or MODEL_HUB_TOKEN (a Backstage user token,
// or a static external access token) with `model-hub.admin`.
// Exit status: 0 when nothing is missing or corrupt (unreferenced blobs are
// only reported: the garbage collection removes them), 3 when something
// is, 1 when the check failed, 2 for a usage error.
import { parseArgs } from 'node:util';
import http from 'node:http';
import https from 'node:https';

const USAGE = `usage:
  model-hub-store-check --url <backend> [--limit <n>] [--json]
options: --token <token> (or MODEL_HUB_TOKEN)`;

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values.url) {
  console.error(USAGE);
  process.exit(values.help ? 0 : 2);
}
const limit = values.limit === undefined ? undefined : Number(values.limit);
if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) {
  console.error(`--limit must be a positive integer, got ${values.limit}`);
  process.exit(2);
}
const api = `${values.url.replace(/\/+$/, '')}/api/model-hub`;
const token = values.token ?? process.env.MODEL_HUB_TOKEN;
const headers = token ? { Authorization: `Bearer ${token}` } : {};

// node:http, not fetch: a check of a large store runs for a long time
// before the answer's first byte, longer than fetch waits for headers
function post(path, body) {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolvePromise, reject) => {
    const target = new URL(`${api}${path}`);
    const req = (target.protocol === 'https:' ? https : http).request(
      target,
      {
        method: 'POST',
        headers: {
          ...headers,
          'Content-Type': 'application/json',
          'Content-Length': String(data.length),
        },
      },
      response => {
        const chunks = [];
        response.on('data', c => chunks.push(c));
        response.on('end', () =>
          resolvePromise({
            status: response.statusCode,
            statusText: response.statusMessage,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

let res;
try {
  res = await post('/admin/store-check', limit ? { limit } : {});
} catch (error) {
  console.error(`Store check failed: ${error.message}`);
  process.exit(1);
}
if (res.status !== 200) {
  let message = res.text;
  try {
    message = JSON.parse(message).error?.message ?? message;
  } catch {
    // not JSON
  }
  console.error(`${res.status} ${res.statusText}: ${message}`);
  process.exit(1);
}
const report = JSON.parse(res.text);
if (values.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const more = list =>
    list.count > list.blobs.length
      ? `  … and ${list.count - list.blobs.length} more\n`
      : '';
  console.log(
    `Checked ${report.checked} blobs (${report.bytes} bytes) in ${(
      report.durationMs / 1000
    ).toFixed(1)} s; ${report.referenced} referenced by files`,
  );
  console.log(`Missing: ${report.missing.count}`);
  for (const b of report.missing.blobs) {
    console.log(`  ${b.sha256} (${b.size} bytes)`);
  }
  process.stdout.write(more(report.missing));
  console.log(`Corrupt: ${report.corrupt.count}`);
  for (const b of report.corrupt.blobs) {
    const detail =
      b.reason === 'content'
        ? `content hashes to ${b.actualSha256}`
        : b.reason === 'size'
        ? `${b.actualSize} bytes, ${b.size} recorded`
        : `unreadable: ${b.error}`;
    console.log(`  ${b.sha256} (${detail})`);
  }
  process.stdout.write(more(report.corrupt));
  console.log(`Unreferenced: ${report.unreferenced.count}`);
  for (const b of report.unreferenced.blobs) {
    console.log(`  ${b.sha256} (${b.size} bytes, ${b.modifiedAt})`);
  }
  process.stdout.write(more(report.unreferenced));
}
process.exit(report.missing.count || report.corrupt.count ? 3 : 0);
