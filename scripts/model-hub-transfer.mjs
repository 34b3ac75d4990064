#!/usr/bin/env node
// Air-gapped transfers of approved model versions between Model Hub portals
// (issue 20). Streams bundles to and from the backend's transfer routes;
// neither direction holds a bundle in memory.
//
//   node scripts/model-hub-transfer.mjs export --url http://localhost:7007 \
//     --model default/tiny@v1 [--model default/other] --out tiny.oci.tar
//       (a model without @label: its active version)
//   node scripts/model-hub-transfer.mjs import --url http://airgapped:7007 tiny.oci.tar
//   node scripts/model-hub-transfer.mjs public-key --url http://localhost:7007
//
// Credentials: --token <token> or MODEL_HUB_TOKEN (a Backstage user token,
// or a static external access token). Export needs `model-hub.export`
// (and `model-hub.artifact.download` on each model), import needs
// `model-hub.import` or `model-hub.admin`. The bundle is an OCI image
// layout in a tar: `skopeo inspect oci-archive:tiny.oci.tar:default/tiny:v1`.
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import http from 'node:http';
import https from 'node:https';

const USAGE = `usage:
  model-hub-transfer export --url <backend> --model <ns/name[@label]>... --out <file>
  model-hub-transfer import --url <backend> <file>
  model-hub-transfer public-key --url <backend>
options: --token <token> (or MODEL_HUB_TOKEN)`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    model: { type: 'string', multiple: true },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
const [command, file] = positionals;
if (values.help || !command || !values.url) {
  console.error(USAGE);
  process.exit(values.help ? 0 : 2);
}
const api = `${values.url.replace(/\/+$/, '')}/api/model-hub`;
const token = values.token ?? process.env.MODEL_HUB_TOKEN;
const headers = token ? { Authorization: `Bearer ${token}` } : {};

async function fail(res) {
  let message = await res.text();
  try {
    message = JSON.parse(message).error?.message ?? message;
  } catch {
    // not JSON
  }
  console.error(`${res.status} ${res.statusText}: ${message}`);
  process.exit(1);
}

if (command === 'public-key') {
  const res = await fetch(`${api}/transfer/public-key`);
  if (!res.ok) await fail(res);
  const key = await res.json();
  console.error(`portal ${key.portal}, key ${key.keyId}`);
  process.stdout.write(key.publicKey);
} else if (command === 'export') {
  if (!values.model?.length || !values.out) {
    console.error(USAGE);
    process.exit(2);
  }
  const versions = values.model.map(m => {
    const [model, version] = m.split('@');
    return version ? { model, version } : { model };
  });
  const res = await fetch(`${api}/transfer/export`, {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/json' },
    body: JSON.stringify({ versions }),
  });
  if (!res.ok) await fail(res);
  const expected = Number(res.headers.get('content-length'));
  const partial = `${values.out}.partial`;
  try {
    await pipeline(Readable.fromWeb(res.body), createWriteStream(partial));
    const { size } = await stat(partial);
    if (expected && size !== expected) {
      throw new Error(`got ${size} of ${expected} bytes`);
    }
    await rename(partial, values.out);
  } catch (error) {
    await rm(partial, { force: true });
    console.error(`Export failed, nothing written: ${error.message}`);
    process.exit(1);
  }
  console.error(`Wrote ${values.out} (${expected} bytes)`);
} else if (command === 'import') {
  if (!file) {
    console.error(USAGE);
    process.exit(2);
  }
  const { size } = await stat(file);
  // node:http, not fetch: the request body follows the socket's pace (a
  // web stream body was read into memory ahead of the upload)
  const res = await new Promise((resolvePromise, reject) => {
    const target = new URL(`${api}/transfer/import`);
    const req = (target.protocol === 'https:' ? https : http).request(
      target,
      {
        method: 'POST',
        headers: {
          ...headers,
          'Content-Type': 'application/x-tar',
          'Content-Length': String(size),
        },
      },
      response => {
        const chunks = [];
        response.on('data', c => chunks.push(c));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolvePromise({
            ok: response.statusCode >= 200 && response.statusCode < 300,
            status: response.statusCode,
            statusText: response.statusMessage,
            text: async () => text,
            json: async () => JSON.parse(text),
          });
        });
        response.on('error', reject);
      },
    );
    req.on('error', reject);
    // a refused bundle may stop the upload: the answer still decides
    pipeline(createReadStream(file), req).catch(e =>
      setTimeout(() => reject(e), 5000),
    );
  });
  if (!res.ok) await fail(res);
  const result = await res.json();
  for (const v of result.versions) {
    console.log(
      `${v.model}@${v.label}: ${v.state} (${v.files} files, ${v.bytes} bytes), signed by ${result.portal}`,
    );
  }
} else {
  console.error(USAGE);
  process.exit(2);
}
