// The Hugging Face workload: alice registers repos of the mock Hub
// (bulk/model-NNNN); each registration queues a sync job, whose sync queues
// the download job of the version's files (fetch: registration). A
// registration whose answer was lost to a kill is sent again: its 409
// ("already registered") means the first one applied.
const sleep = ms => new Promise(r => setTimeout(r, ms));

export const repoId = i => `bulk/model-${String(i).padStart(4, '0')}`;

export async function registerRepos(api, count, { concurrency = 3 } = {}) {
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await api.call('alice', 'POST', '/huggingface/repos', {
        repoId: repoId(i),
        owner: 'group:default/ml-engineers',
      });
      results.push({
        repoId: repoId(i),
        status: res.status,
        jobId: res.json?.jobId,
        error:
          res.error ?? (res.status >= 400 ? res.text.slice(0, 200) : undefined),
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/** Jobs that are not finished (queued or running), from the jobs table. */
export async function openJobs(db) {
  const { rows } = await db.query(
    "select count(*)::int as n from jobs where state in ('queued', 'running')",
  );
  return rows[0].n;
}

/**
 * Waits until no job is queued or running (a job of a killed instance runs
 * again once its 30 s lease expired) or `timeoutMs` passed.
 */
export async function waitForJobs(db, timeoutMs, { minJobs = 0 } = {}) {
  const t0 = Date.now();
  let quiet = 0;
  while (Date.now() - t0 < timeoutMs) {
    const { rows } = await db.query('select count(*)::int as n from jobs');
    const open = await openJobs(db);
    // done when nothing is open twice in a row (a sync queues its
    // download job in the same transaction, but be safe)
    quiet = open === 0 && rows[0].n >= minJobs ? quiet + 1 : 0;
    if (quiet >= 2) return true;
    await sleep(1000);
  }
  return false;
}
