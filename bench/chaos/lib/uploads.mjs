// The upload workload: large safetensors files sent with the real
// tus-js-client, each PATCH on a new connection through the proxy (so
// consecutive PATCHes of one upload reach different instances), resumed
// by the client after a kill (HEAD for the offset, then PATCH on).
import { createHash, randomFillSync } from 'node:crypto';
import { createWriteStream, createReadStream, statSync } from 'node:fs';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { safetensors } from './approvals.mjs';

const require = createRequire(import.meta.url);
const tus = require('tus-js-client');

/** Writes a valid safetensors file of about `size` bytes; resolves its SHA-256. */
export async function makeUploadFile(file, size, seedByte) {
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  const head = safetensors(size, Buffer.alloc(0)); // header only
  const write = async b => {
    hash.update(b);
    if (!out.write(b)) await once(out, 'drain');
  };
  await write(head);
  const block = Buffer.alloc(4 * 1024 * 1024);
  for (let done = 0; done < size; done += block.length) {
    const b = block.subarray(0, Math.min(block.length, size - done));
    randomFillSync(b);
    b[0] = seedByte;
    await write(b);
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

/**
 * One tus upload of `file` into default/<model>@<label>/model.safetensors.
 * `patchesOf(uploadId)` names the instances its PATCH connections went to (from the
 * proxy), so the report can say over how many instances the PATCHes went.
 */
export function tusUpload({
  endpoint,
  token,
  model,
  label,
  file,
  sha256,
  chunkSize,
  patchesOf,
}) {
  const patches = [];
  let retries = 0;
  const errors = [];
  return new Promise(resolve => {
    const upload = new tus.Upload(createReadStream(file), {
      endpoint,
      chunkSize,
      uploadSize: statSync(file).size,
      headers: { Authorization: `Bearer ${token()}` },
      metadata: {
        model: `default/${model}`,
        version: label,
        path: 'model.safetensors',
        sha256,
      },
      retryDelays: [
        0, 500, 1000, 2000, 3000, 5000, 5000, 5000, 10000, 10000, 10000, 15000,
        15000, 20000, 30000,
      ],
      storeFingerprintForResuming: false,
      httpStack: new tus.DefaultHttpStack({ agent: false }),
      onBeforeRequest: req => {
        req.setHeader('Authorization', `Bearer ${token()}`);
      },
      onAfterResponse: (req, res) => {
        if (req.getMethod() === 'PATCH') patches.push(res.getStatus());
      },
      onShouldRetry: (err, attempt) => {
        retries += 1;
        errors.push(String(err.message ?? err).slice(0, 160));
        const status = err.originalResponse?.getStatus?.() ?? 0;
        // network errors, 5xx, and the tus codes that mean "try again"
        return (
          status === 0 || status >= 500 || status === 409 || status === 423
        );
      },
      onError: err =>
        resolve({
          ok: false,
          error: String(err.message ?? err).slice(0, 500),
          patches,
          retries,
          errors,
          url: upload.url,
          instances: patchesOf(upload.url?.split('/').pop()),
        }),
      onSuccess: payload => {
        const res = payload?.lastResponse;
        resolve({
          ok: true,
          serverSha256: res?.getHeader?.('X-Content-Sha256'),
          instances: patchesOf(upload.url?.split('/').pop()),
          patches,
          retries,
          errors,
          url: upload.url,
        });
      },
    });
    upload.start();
  });
}

/** Runs the uploads `concurrency` at a time; returns one result per upload. */
export async function uploadsWorkload(
  api,
  proxy,
  { runId, count, size, chunkSize, concurrency = 2, fileDir },
) {
  const model = `chaos-${runId}-uploads`;
  await api.must(
    'alice',
    'POST',
    '/models',
    {
      name: model,
      namespace: 'default',
      type: 'other',
      owner: 'group:default/ml-engineers',
    },
    [201, 409],
  );
  const files = [];
  for (let i = 0; i < count; i++) {
    const file = `${fileDir}/upload-${i}.safetensors`;
    const sha = await makeUploadFile(file, size, i);
    files.push({
      file,
      sha256: sha,
      label: `u${i}`,
      size: statSync(file).size,
    });
  }
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++];
      await api.must(
        'alice',
        'POST',
        `/models/default/${model}/versions`,
        { label: f.label },
        [201, 409],
      );
      const t0 = Date.now();
      const r = await tusUpload({
        endpoint: `${proxy.url}/api/model-hub/uploads`,
        token: () => api.tokens.alice,
        model,
        label: f.label,
        file: f.file,
        sha256: f.sha256,
        chunkSize,
        patchesOf: proxy.patchesOf,
      });
      results.push({ ...f, ...r, model, ms: Date.now() - t0 });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}
