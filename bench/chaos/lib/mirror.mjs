// Mirror downloads: carol (read only) downloads approved versions through the
// Hugging Face-compatible mirror (/api/model-hub/hf/...), each on a new
// connection, and checks the SHA-256 of what she got. A download cut by a
// kill is retried (counted).
import { createHash } from 'node:crypto';
import { request } from './client.mjs';

export async function mirrorDownload(
  api,
  stats,
  { model, label, sha256, path = 'model.safetensors' },
) {
  for (let attempt = 1; attempt <= 20; attempt++) {
    try {
      const res = await request(
        `${api.baseUrl}/api/model-hub/hf/default/${model}/resolve/${label}/${path}`,
        {
          headers: { authorization: `Bearer ${await api.token('carol')}` },
          timeoutMs: 600_000,
        },
      );
      if ([502, 503, 504].includes(res.status)) {
        api.countError(`mirror http ${res.status}`);
        stats.retries += 1;
        await new Promise(r => setTimeout(r, 500));
        continue;
      }
      const got = createHash('sha256').update(res.body).digest('hex');
      return {
        model,
        label,
        status: res.status,
        ok: res.status === 200 && got === sha256,
        bytes: res.body.length,
        attempts: attempt,
      };
    } catch (e) {
      api.countError(`mirror network ${e.code ?? e.message}`);
      stats.retries += 1;
      await new Promise(r => setTimeout(r, 300 * attempt));
    }
  }
  return { model, label, status: 0, ok: false, bytes: 0, attempts: 20 };
}

/** Downloads every version of `versions` (approved ones), `concurrency` at a time. */
export async function mirrorWorkload(
  api,
  stats,
  versions,
  { concurrency = 3 } = {},
) {
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < versions.length) {
      results.push(await mirrorDownload(api, stats, versions[next++]));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}
