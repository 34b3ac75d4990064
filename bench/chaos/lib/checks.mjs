// The end-of-run checks (issue 17, acceptance 1), each {name, ok, detail}.
// They read the model-hub database directly (jobs, job_logs, versions,
// files, audit) and ask the hub for the store check after the GC.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const TRANSITION_EVENTS = {
  submit: 'version-submit',
  approve: 'version-approve',
  request_changes: 'version-request-changes',
  reject: 'version-reject',
  deprecate: 'version-deprecate',
  archive: 'version-archive',
  revoke: 'version-revoke',
};

/** The state each transition leads to (one approval is enough here). */
const REPLAY_TO = {
  submit: 'in_review',
  approve: 'approved',
  request_changes: 'changes_requested',
  reject: 'rejected',
  deprecate: 'deprecated',
  archive: 'archived',
  revoke: 'rejected',
};

/** Jobs: none lost (every job succeeded), none run twice to completion. */
export async function checkJobs(db, { expectedRepos }) {
  const { rows: jobs } = await db.query(
    'select id, type, state, attempts, error from jobs',
  );
  const { rows: logs } = await db.query(
    "select job_id, count(*) filter (where message = 'Succeeded')::int as succeeded, count(*) filter (where message like 'Attempt %')::int as attempts from job_logs group by job_id",
  );
  const byJob = new Map(logs.map(l => [l.job_id, l]));
  const notSucceeded = jobs.filter(j => j.state !== 'succeeded');
  const twice = jobs.filter(j => (byJob.get(j.id)?.succeeded ?? 0) > 1);
  const succeededNoLog = jobs.filter(
    j => j.state === 'succeeded' && (byJob.get(j.id)?.succeeded ?? 0) === 0,
  );
  const types = {};
  for (const j of jobs)
    types[`${j.type} ${j.state}`] = (types[`${j.type} ${j.state}`] ?? 0) + 1;
  const reattempted = jobs.filter(
    j => (byJob.get(j.id)?.attempts ?? 0) > 1,
  ).length;
  // every registered repo has a version whose expected files are all there
  const { rows: hf } = await db.query(
    `select v.id, m.name, v.label,
       (select count(*)::int from version_expected_files e where e.version_id = v.id) as expected,
       (select count(*)::int from version_expected_files e join version_files f
          on f.version_id = e.version_id and f.path = e.path
          and (e.sha256 is null or f.sha256 = e.sha256)
        where e.version_id = v.id) as present
     from model_versions v join models m on m.id = v.model_id
     where exists (select 1 from version_expected_files e where e.version_id = v.id)`,
  );
  const incomplete = hf.filter(v => v.present !== v.expected);
  return [
    {
      name: 'no job lost: every job succeeded',
      ok: notSucceeded.length === 0,
      detail: `${jobs.length} jobs (${Object.entries(types)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')}); ${reattempted} ran more than one attempt${
        notSucceeded.length
          ? `; not succeeded: ${notSucceeded
              .slice(0, 5)
              .map(j =>
                `${j.type} ${j.id} ${j.state} ${j.error ?? ''}`.slice(0, 200),
              )
              .join(' | ')}`
          : ''
      }`,
    },
    {
      name: 'no job ran twice to completion (one "Succeeded" log line per job)',
      ok: twice.length === 0 && succeededNoLog.length === 0,
      detail: `${twice.length} jobs with 2+ completions, ${succeededNoLog.length} succeeded without their log line`,
    },
    {
      name: `every HF download complete: ${expectedRepos} repos, each version has every expected file with its hash`,
      ok: hf.length >= expectedRepos && incomplete.length === 0,
      detail: `${hf.length} HF versions, ${incomplete.length} incomplete${
        incomplete.length
          ? `: ${incomplete
              .slice(0, 5)
              .map(v => `${v.name}@${v.label} ${v.present}/${v.expected}`)
              .join(', ')}`
          : ''
      }`,
    },
  ];
}

/** Every upload completed, and the version holds the file with the right SHA-256. */
export async function checkUploads(db, uploads, { instanceCount, kills }) {
  const bad = [];
  for (const u of uploads) {
    const { rows } = await db.query(
      `select f.sha256, f.size from version_files f join model_versions v on v.id = f.version_id
       join models m on m.id = v.model_id where m.name = $1 and v.label = $2 and f.path = 'model.safetensors'`,
      [u.model, u.label],
    );
    const row = rows[0];
    if (
      !u.ok ||
      !row ||
      row.sha256 !== u.sha256 ||
      Number(row.size) !== u.size ||
      (u.serverSha256 && u.serverSha256 !== u.sha256)
    ) {
      bad.push(
        `${u.label}: client ${
          u.ok ? 'done' : `failed (${u.error})`
        }, server sha ${u.serverSha256 ?? '-'}, stored ${
          row ? `${row.sha256.slice(0, 12)} ${row.size}` : 'no file'
        }`,
      );
    }
  }
  const instances = uploads.map(u => new Set(u.instances ?? []).size);
  return [
    {
      name: `every upload complete with the right SHA-256 (${uploads.length})`,
      ok: uploads.length > 0 && bad.length === 0,
      detail: `${uploads.length - bad.length}/${
        uploads.length
      } ok; PATCHes per upload ${uploads
        .map(u => u.patches.length)
        .join('/')}, instances per upload ${instances.join(
        '/',
      )}; client retries ${uploads.reduce((a, u) => a + u.retries, 0)}${
        bad.length ? `; ${bad.slice(0, 4).join(' | ')}` : ''
      }`,
    },
    {
      // without kills every upload must spread; with kills, instances are
      // down for a minute at a time (start-up on this machine), so an upload
      // may meet one live instance only: then some upload must have spread
      name:
        kills > 0
          ? 'the PATCHes of an upload reached several instances (no sticky sessions)'
          : 'the PATCHes of each upload reached more than one instance',
      ok:
        instanceCount === 1 ||
        (kills > 0
          ? instances.some(n => n > 1)
          : uploads.every(
              (u, i) => instances[i] > 1 || (u.instances ?? []).length < 2,
            )),
      detail: `distinct instances per upload: ${instances.join(', ')}`,
    },
  ];
}

/** GC, then the store check as dana (admin): 0 corrupt, 0 missing, 0 unreferenced. */
export async function checkStore(api) {
  const gc = await api.call('dana', 'POST', '/admin/gc', {});
  const res = await api.call(
    'dana',
    'POST',
    '/admin/store-check',
    { limit: 20 },
    { timeoutMs: 1_800_000 },
  );
  const r = res.json ?? {};
  const ok =
    res.status === 200 &&
    r.corrupt?.count === 0 &&
    r.missing?.count === 0 &&
    r.unreferenced?.count === 0;
  return [
    {
      name: 'store check after the GC: 0 corrupt, 0 missing, 0 unreferenced',
      ok,
      detail:
        res.status === 200
          ? `GC ${gc.status} ${JSON.stringify(gc.json ?? gc.text).slice(
              0,
              120,
            )}; checked ${r.checked} blobs (${r.bytes} bytes), ${
              r.referenced
            } referenced; corrupt ${r.corrupt.count}, missing ${
              r.missing.count
            }, unreferenced ${r.unreferenced.count}${
              r.unreferenced.count
                ? ` (${r.unreferenced.blobs
                    .slice(0, 3)
                    .map(
                      b =>
                        `${b.sha256.slice(0, 12)} ${b.size} B ${b.modifiedAt}`,
                    )
                    .join(', ')})`
                : ''
            }`
          : `${res.status} ${res.error ?? res.text?.slice(0, 300)}`,
    },
  ];
}

/**
 * No orphan multipart upload. s3rver does not implement
 * ListMultipartUploads (NotImplemented), so its on-disk folder of open
 * multipart uploads is listed instead; each entry is an upload never
 * completed nor aborted. The instances reach s3rver through the front of
 * lib/s3front.mjs, which implements AbortMultipartUpload (s3rver answers
 * it 405) by removing that folder. Run after the GC (checkStore), at least
 * the stale window after the last kill: the GC's clean-up aborts the
 * registered uploads (`s3_multipart_uploads`) whose heartbeat is stale, so
 * the table must be empty as well.
 */
export async function checkMultipart(s3, db, frontStats) {
  const dir = s3.multipartDir;
  const entries = existsSync(dir) ? readdirSync(dir) : [];
  const detail = entries.slice(0, 5).map(id => {
    const st = statSync(path.join(dir, id));
    const parts = readdirSync(path.join(dir, id)).filter(f =>
      /^\d+$/.test(f),
    ).length;
    return `${id.slice(
      0,
      12,
    )}… ${parts} parts, started ${st.birthtime.toISOString()}`;
  });
  const { rows: registered } = await db.query(
    'select upload_id, holder, started_at, heartbeat_at from s3_multipart_uploads order by started_at',
  );
  const aborts = frontStats
    ? `; aborts answered by the front: ${frontStats.aborted} (and ${frontStats.abortsOfNoUpload} of no such upload)`
    : '';
  return [
    {
      name: 'no orphan S3 multipart upload (s3rver lacks ListMultipartUploads: its on-disk folder ._S3rver_uploads is listed)',
      ok: entries.length === 0,
      detail: `${entries.length} open multipart uploads${
        detail.length ? `: ${detail.join('; ')}` : ''
      }${aborts}`,
    },
    {
      name: 'no registered S3 multipart upload left (s3_multipart_uploads, after the GC)',
      ok: registered.length === 0,
      detail: `${registered.length} rows${
        registered.length
          ? `: ${registered
              .slice(0, 5)
              .map(
                r =>
                  `${String(r.upload_id).slice(0, 12)}… by ${
                    r.holder
                  }, heartbeat ${new Date(
                    Number(r.heartbeat_at),
                  ).toISOString()}`,
              )
              .join('; ')}`
          : ''
      }`,
    },
  ];
}

/** No version in an impossible state. */
export async function checkVersions(db) {
  const problems = [];
  const { rows: changed } = await db.query(
    `select m.name, v.label, v.state, v.content_digest, v.approved_digest from model_versions v join models m on m.id = v.model_id
     where v.state in ('approved', 'deprecated') and (v.approved_digest is null or v.content_digest is distinct from v.approved_digest)`,
  );
  for (const v of changed)
    problems.push(
      `${v.name}@${v.label} ${v.state} with content ${v.content_digest?.slice(
        7,
        19,
      )} approved ${v.approved_digest?.slice(7, 19)}`,
    );
  const { rows: late } = await db.query(
    `select m.name, v.label, f.path from version_files f join model_versions v on v.id = f.version_id join models m on m.id = v.model_id
     where v.state in ('approved', 'deprecated', 'archived') and f.created_at > (
       select max(r.created_at) from version_reviews r where r.version_id = v.id and r.decision = 'approve')`,
  );
  for (const v of late)
    problems.push(`${v.name}@${v.label}: ${v.path} added after the approval`);
  const { rows: active } = await db.query(
    `select m.name, v.label, v.state from model_active_versions a join model_versions v on v.id = a.version_id join models m on m.id = a.model_id
     where v.state not in ('approved', 'deprecated') or v.model_id <> a.model_id`,
  );
  for (const v of active)
    problems.push(`${v.name}: active version ${v.label} is ${v.state}`);
  const { rows: twoActive } = await db.query(
    'select model_id, count(*)::int as n from model_active_versions group by model_id having count(*) > 1',
  );
  for (const v of twoActive)
    problems.push(`model ${v.model_id} has ${v.n} active versions`);
  const { rows: noApproval } = await db.query(
    `select m.name, v.label, v.state from model_versions v join models m on m.id = v.model_id
     where v.state in ('approved', 'deprecated', 'archived') and v.source_type <> 'import'
       and not exists (select 1 from version_reviews r where r.version_id = v.id and r.decision = 'approve')`,
  );
  for (const v of noApproval)
    problems.push(`${v.name}@${v.label} ${v.state} without an approval`);
  const { rows: states } = await db.query(
    'select state, count(*)::int as n from model_versions group by state order by state',
  );
  return [
    {
      name: 'no version in an impossible state (files changed after approval, active not approved, two active, approved without approval)',
      ok: problems.length === 0,
      detail: `${states.map(s => `${s.state} ${s.n}`).join(', ')}${
        problems.length ? `; ${problems.slice(0, 6).join(' | ')}` : ''
      }`,
    },
  ];
}

/**
 * Every transition request either applied once or answered an error: per
 * version, actor and action, the audit rows number at least the 200 answers
 * and at most the 200 answers plus the requests whose answer was lost to a
 * kill (status 0); the decisions and submissions written in the
 * transition's own transaction (version_reviews, version_submissions) agree
 * with the audit rows.
 */
export async function checkTransitions(db, log) {
  const { rows: audit } = await db.query(
    `select model_ref, version_label, actor, event_id from audit_events where event_id like 'version-%' order by id`,
  );
  const { rows: decisions } = await db.query(
    `select 'model:default/' || m.name as model_ref, v.label as version_label, r.reviewer as actor, r.decision from version_reviews r
     join model_versions v on v.id = r.version_id join models m on m.id = v.model_id`,
  );
  const { rows: submissions } = await db.query(
    `select 'model:default/' || m.name as model_ref, v.label as version_label, s.submitted_by as actor from version_submissions s
     join model_versions v on v.id = s.version_id join models m on m.id = v.model_id`,
  );
  const key = (model, label, actor, action) =>
    `${model}|${label}|${actor}|${action}`;
  const count = (map, k) => map.set(k, (map.get(k) ?? 0) + 1);
  const audited = new Map();
  const eventToAction = Object.fromEntries(
    Object.entries(TRANSITION_EVENTS).map(([a, e]) => [e, a]),
  );
  for (const a of audit)
    if (eventToAction[a.event_id])
      count(
        audited,
        key(a.model_ref, a.version_label, a.actor, eventToAction[a.event_id]),
      );
  const inTx = new Map();
  for (const d of decisions)
    if (TRANSITION_EVENTS[d.decision])
      count(inTx, key(d.model_ref, d.version_label, d.actor, d.decision));
  for (const s of submissions)
    count(inTx, key(s.model_ref, s.version_label, s.actor, 'submit'));
  const ok200 = new Map();
  const lost = new Map();
  const keys = new Set();
  const statuses = {};
  for (const r of log) {
    const k = key(
      `model:default/${r.model}`,
      r.label,
      `user:default/${r.user}`,
      r.action,
    );
    keys.add(k);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.status === 200) count(ok200, k);
    else if (r.status === 0 || r.status >= 500) count(lost, k);
  }
  const problems = [];
  const models = new Set(log.map(r => `model:default/${r.model}`));
  for (const k of new Set([...audited.keys(), ...inTx.keys()]))
    if (models.has(k.split('|')[0])) keys.add(k);
  for (const k of keys) {
    const a = audited.get(k) ?? 0;
    const t = inTx.get(k);
    const n = ok200.get(k) ?? 0;
    const l = lost.get(k) ?? 0;
    if (a < n || a > n + l)
      problems.push(`${k}: ${n} answered 200, ${l} unanswered, ${a} audited`);
    if (t !== undefined && t !== a)
      problems.push(`${k}: ${t} recorded by the transition, ${a} audited`);
    if (
      t === undefined &&
      !['deprecate', 'archive'].includes(k.split('|')[3]) &&
      n > 0
    )
      problems.push(`${k}: answered 200 but no review/submission row`);
  }
  // the audited transitions, replayed from draft, end in each version's
  // state (a transition applied without its audit row shows up here)
  const { rows: current } = await db.query(
    `select 'model:default/' || m.name as model_ref, v.label, v.state from model_versions v join models m on m.id = v.model_id`,
  );
  const replayed = new Map();
  for (const a of audit) {
    const to = REPLAY_TO[eventToAction[a.event_id]];
    if (to) replayed.set(`${a.model_ref}|${a.version_label}`, to);
  }
  const drift = current
    .filter(v => models.has(v.model_ref))
    .filter(
      v => (replayed.get(`${v.model_ref}|${v.label}`) ?? 'draft') !== v.state,
    )
    .map(
      v =>
        `${v.model_ref}@${v.label} is ${v.state}, audit replays to ${
          replayed.get(`${v.model_ref}|${v.label}`) ?? 'draft'
        }`,
    );
  return [
    {
      name: 'the audited transitions replay to every version state',
      ok: drift.length === 0,
      detail: `${current.filter(v => models.has(v.model_ref)).length} versions${
        drift.length ? `; ${drift.slice(0, 5).join(' | ')}` : ''
      }`,
    },
    {
      name: `every transition applied once or answered an error (${log.length} requests)`,
      ok: log.length > 0 && problems.length === 0,
      detail: `answers ${Object.entries(statuses)
        .map(([s, n]) => `${s}: ${n}`)
        .join(', ')}${
        problems.length
          ? `; ${problems.length} mismatches: ${problems
              .slice(0, 5)
              .join(' | ')}`
          : ''
      }`,
    },
  ];
}
