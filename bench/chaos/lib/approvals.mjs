// The approvals workload: versions of hub models created by alice (one small
// safetensors file each), then transitions by alice, bob, carol and dana, with
// races (several decisions on the same version at once). Every transition
// request is recorded with its answer, to compare with the audit trail.
import { createHash, randomBytes } from 'node:crypto';

/** A valid safetensors file with one U8 tensor of `size` random bytes. */
export function safetensors(size, bytes = randomBytes(size)) {
  let header = Buffer.from(
    JSON.stringify({
      w: { dtype: 'U8', shape: [size], data_offsets: [0, size] },
    }),
  );
  const pad = (8 - (header.length % 8)) % 8;
  header = Buffer.concat([header, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, bytes]);
}

export const sha256 = b => createHash('sha256').update(b).digest('hex');

const OWNER = 'group:default/ml-engineers';

/** Creates a hub model as alice (a 409 of a retried create is fine). */
export async function createModel(api, name) {
  await api.must(
    'alice',
    'POST',
    '/models',
    { name, namespace: 'default', type: 'other', owner: OWNER },
    [201, 409],
  );
}

/** A draft version with one small file, as alice. */
export async function createVersion(api, model, label, file) {
  const M = `/models/default/${model}`;
  await api.must('alice', 'POST', `${M}/versions`, { label }, [201, 409]);
  const put = await api.must(
    'alice',
    'PUT',
    `${M}/versions/${label}/files/model.safetensors`,
    file,
    [200, 201, 409],
  );
  return put;
}

/**
 * Sends one transition and records it. No retry: a request whose answer was
 * lost to a kill is recorded with status 0 (it may have applied once, or not).
 */
export async function transition(api, log, user, model, label, action) {
  const body = { action };
  if (['request_changes', 'reject', 'revoke'].includes(action))
    body.comment = `chaos: ${action} by ${user}`;
  const at = Date.now();
  const res = await api.call(
    user,
    'POST',
    `/models/default/${model}/versions/${label}/transitions`,
    body,
    { retry: false },
  );
  const entry = {
    user,
    model,
    label,
    action,
    status: res.status,
    at,
    to: res.json?.to,
    error:
      res.error ?? (res.status >= 400 ? res.json?.error?.message : undefined),
  };
  log.push(entry);
  return entry;
}

const race = (api, log, model, label, moves) =>
  Promise.all(
    moves.map(([user, action]) =>
      transition(api, log, user, model, label, action),
    ),
  );

async function stateOf(api, model, label) {
  const res = await api.must(
    'carol',
    'GET',
    `/models/default/${model}/versions/${label}`,
    undefined,
    [200],
  );
  return res.json.state ?? res.json.version?.state;
}

/**
 * Drives one version through its lifecycle with races until `budget.left`
 * transitions are spent or the version is archived or rejected.
 */
export async function driveVersion(api, log, budget, model, label) {
  const spend = n => {
    budget.left -= n;
  };
  for (let round = 0; round < 4 && budget.left > 0; round++) {
    let state = await stateOf(api, model, label);
    if (state === 'draft' || state === 'changes_requested') {
      // alice submits twice at once: one applies, the other gets a 409
      spend(2);
      await race(api, log, model, label, [
        ['alice', 'submit'],
        ['alice', 'submit'],
      ]);
      state = await stateOf(api, model, label);
    }
    if (state === 'in_review') {
      // bob and dana approve, bob asks for changes (first rounds only),
      // carol (read only) tries to approve: 403
      const moves = [
        ['bob', 'approve'],
        ['dana', 'approve'],
        ['carol', 'approve'],
      ];
      if (round === 0 && Math.random() < 0.5)
        moves.push(['bob', 'request_changes']);
      spend(moves.length);
      await race(api, log, model, label, moves);
      state = await stateOf(api, model, label);
    }
    if (state === 'approved') {
      if (Math.random() < 0.3) return 'approved'; // kept active for the mirror
      spend(3);
      await race(api, log, model, label, [
        ['dana', 'deprecate'],
        ['bob', 'deprecate'],
        ['alice', 'deprecate'],
      ]);
      state = await stateOf(api, model, label);
    }
    if (state === 'deprecated') {
      spend(2);
      await race(api, log, model, label, [
        ['bob', 'archive'],
        ['dana', 'revoke'],
      ]);
      return stateOf(api, model, label);
    }
    if (state === 'rejected' || state === 'archived') return state;
  }
  return stateOf(api, model, label);
}

/**
 * The whole approvals workload: `models` models with versions v1, v2, ...
 * driven `concurrency` at a time until `transitions` requests were sent.
 * Returns the versions (with their file's SHA-256) and the request log.
 */
export async function approvalsWorkload(
  api,
  { runId, models, transitions, concurrency = 4, fileSize = 64 * 1024 },
) {
  const log = [];
  const versions = [];
  const budget = { left: transitions };
  const names = Array.from(
    { length: models },
    (_, i) => `chaos-${runId}-m${i}`,
  );
  for (const name of names) await createModel(api, name);
  let n = 0;
  const worker = async () => {
    while (budget.left > 0) {
      const k = n++;
      const model = names[k % names.length];
      const label = `v${Math.floor(k / names.length) + 1}`;
      const file = safetensors(fileSize);
      await createVersion(api, model, label, file);
      const v = { model, label, sha256: sha256(file), size: file.length };
      versions.push(v);
      v.finalState = await driveVersion(api, log, budget, model, label);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { log, versions };
}
