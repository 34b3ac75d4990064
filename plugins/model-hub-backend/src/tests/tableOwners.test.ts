import fs from 'node:fs';
import path from 'node:path';

/**
 * One owner per table (issue 21): a table is written (insert, update,
 * delete, upsert, truncate, increment) only by its owner store; every other
 * file calls the owner's method, passing its transaction when the write must
 * be atomic with its own. Reads are allowed anywhere.
 */

const SRC = path.resolve(__dirname, '..');
const MIGRATIONS = path.resolve(SRC, '..', 'migrations');

const ACTIVE_VERSIONS = ['approvals/ActiveVersionsStore.ts'];
const REVIEWS = ['approvals/ReviewStore.ts'];

/** The owner file(s) of every table, relative to `src/`. */
const TABLE_OWNERS: Record<string, string[]> = {
  models: ['database/ModelsStore.ts'],
  model_tags: ['database/ModelsStore.ts'],
  model_versions: ['database/VersionsStore.ts'],
  version_contributors: ['database/VersionsStore.ts'],
  version_expected_files: ['database/VersionsStore.ts'],
  version_files: ['database/FilesStore.ts'],
  blobs: ['database/FilesStore.ts'],
  audit_events: ['database/ActivityStore.ts'],
  download_counts: ['database/ActivityStore.ts'],
  jobs: ['jobs/JobStore.ts'],
  job_logs: ['jobs/JobStore.ts'],
  job_watchers: ['jobs/JobWatchersStore.ts'],
  version_checks: ['inspection/VersionChecksStore.ts'],
  model_active_versions: ACTIVE_VERSIONS,
  model_active_version_history: ACTIVE_VERSIONS,
  version_submissions: REVIEWS,
  version_reviews: REVIEWS,
  version_comments: REVIEWS,
  check_waivers: REVIEWS,
  webhook_deliveries: ['approvals/WebhookDeliveriesStore.ts'],
  hf_repos: ['huggingface/HuggingFaceStore.ts'],
  hf_repo_files: ['huggingface/HuggingFaceStore.ts'],
  // the download code's own store (jobs/); it follows the code if it moves
  hf_partial_downloads: ['jobs/PartialDownloadStore.ts'],
  hf_drift_versions: ['huggingface/DriftVersionsStore.ts'],
  mirror_tokens: ['mirror/MirrorStore.ts'],
  mirror_git_oids: ['mirror/MirrorStore.ts'],
  upload_sessions: ['uploads/UploadSessionsStore.ts'],
  upload_locks: ['uploads/DatabaseLocker.ts'],
  s3_multipart_uploads: ['store/S3MultipartRegistry.ts'],
  catalog_sync_state: ['catalogSync/CatalogSyncStore.ts'],
  model_tombstones: ['catalogSync/CatalogSyncStore.ts'],
  model_sources: ['sources/SourceStore.ts'],
  model_source_status: ['sources/SourceStore.ts'],
  version_imports: ['transfer/ImportsStore.ts'],
};

/**
 * TEMPORARY: writes outside their owner that are still being moved to the
 * owner's methods (`file: [tables]`). This list only shrinks; it is printed
 * on every run, and an entry that no longer matches is reported as stale.
 */
const TEMPORARY_EXCEPTIONS: Record<string, string[]> = {};

const WRITE_METHODS = new Set([
  'insert',
  'update',
  'delete',
  'del',
  'upsert',
  'onConflict',
  'merge',
  'truncate',
  'increment',
  'decrement',
]);

/** Replaces comments with spaces (keeping offsets), leaving strings alone. */
function stripComments(text: string): string {
  const out = text.split('');
  let i = 0;
  let quote: string | undefined;
  while (i < text.length) {
    const c = text[i];
    if (quote) {
      if (c === '\\') {
        i += 2;
        continue;
      }
      if (c === quote) {
        quote = undefined;
      }
      i++;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      quote = c;
      i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') {
        out[i++] = ' ';
      }
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      for (; i < stop; i++) {
        if (out[i] !== '\n') {
          out[i] = ' ';
        }
      }
      continue;
    }
    i++;
  }
  return out.join('');
}

/**
 * The methods called on a query chain that starts at `from`: the calls at
 * the chain's own depth until the statement, argument or block ends.
 */
function chainMethods(text: string, from: number): string[] {
  const methods: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') {
        i++;
      } else if (c === quote) {
        quote = undefined;
      }
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      quote = c;
    } else if (c === '(' || c === '[' || c === '{') {
      depth++;
    } else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth < 0) {
        break;
      }
    } else if (depth === 0 && (c === ';' || c === ',')) {
      break;
    } else if (depth === 0 && c === '.') {
      const m = /^\.\s*([A-Za-z_$][\w$]*)\s*(?:<[^;()]*?>)?\s*\(/.exec(
        text.slice(i, i + 200),
      );
      if (m) {
        methods.push(m[1]);
      }
    }
  }
  return methods;
}

type TableWrite = { file: string; line: number; table: string };

/** The table writes in one source text. */
function findTableWrites(
  file: string,
  source: string,
  tables: string[],
): TableWrite[] {
  const text = stripComments(source);
  const names = tables.join('|');
  const writes: TableWrite[] = [];
  const lineOf = (index: number) => text.slice(0, index).split('\n').length;
  const add = (index: number, table: string) => {
    const line = lineOf(index);
    if (!writes.some(w => w.line === line && w.table === table)) {
      writes.push({ file, line, table });
    }
  };
  // knex('table'), tx<Row>('table as t'), .table('table'), .from('table'),
  // followed by a write in its chain
  const start = new RegExp(
    `(?:[\\w$\\])]\\s*(?:<[^;()]*?>)?|\\.\\s*(?:table|from|queryBuilder)\\s*)\\(\\s*['"\`](${names})(?:\\s+as\\s+\\w+)?['"\`]\\s*\\)`,
    'g',
  );
  for (let m = start.exec(text); m; m = start.exec(text)) {
    const methods = chainMethods(text, m.index + m[0].length);
    if (methods.some(x => WRITE_METHODS.has(x))) {
      add(m.index, m[1]);
    }
  }
  // a query kept in a variable: `const q = db('table')…; await q.update(…)`
  const held = new RegExp(
    `\\b(?:const|let|var)\\s+([A-Za-z_$][\\w$]*)\\s*=\\s*[\\w$.]*?\\s*(?:<[^;()]*?>)?\\(\\s*['"\`](${names})(?:\\s+as\\s+\\w+)?['"\`]\\s*\\)`,
    'g',
  );
  for (let m = held.exec(text); m; m = held.exec(text)) {
    const use = new RegExp(`(?<![\\w$.])${m[1].replace(/\$/g, '\\$')}\\b`, 'g');
    use.lastIndex = m.index + m[0].length;
    for (let u = use.exec(text); u; u = use.exec(text)) {
      if (
        chainMethods(text, u.index + u[0].length).some(x =>
          WRITE_METHODS.has(x),
        )
      ) {
        add(u.index, m[2]);
      }
    }
  }
  // .into('table') is an insert, and so is batchInsert('table', rows)
  const into = new RegExp(
    `\\.\\s*(?:into|batchInsert)\\s*\\(\\s*['"\`](${names})(?:\\s+as\\s+\\w+)?['"\`]\\s*[,)]`,
    'g',
  );
  for (let m = into.exec(text); m; m = into.exec(text)) {
    add(m.index, m[1]);
  }
  // raw SQL
  const raw = new RegExp(
    `\\b(?:insert\\s+into|delete\\s+from|update|truncate(?:\\s+table)?)\\s+["\`]?(${names})["\`]?(?:\\s+as\\s+\\w+)?\\s+(?:set\\b|\\(|values\\b|select\\b|where\\b|using\\b|["'\`;)]|$)`,
    'gim',
  );
  for (let m = raw.exec(text); m; m = raw.exec(text)) {
    add(m.index, m[1]);
  }
  return writes;
}

function migrationTables(): string[] {
  const tables = new Set<string>();
  for (const f of fs.readdirSync(MIGRATIONS).filter(n => n.endsWith('.js'))) {
    const text = fs.readFileSync(path.join(MIGRATIONS, f), 'utf8');
    for (const m of text.matchAll(/createTable\(\s*['"`](\w+)['"`]/g)) {
      tables.add(m[1]);
    }
    for (const m of text.matchAll(
      /renameTable\(\s*['"`]\w+['"`]\s*,\s*['"`](\w+)['"`]/g,
    )) {
      tables.add(m[1]);
    }
  }
  return [...tables].sort();
}

function sourceFiles(dir = SRC): string[] {
  const files: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!['tests', '__testUtils__', 'node_modules'].includes(entry.name)) {
        files.push(...sourceFiles(full));
      }
    } else if (
      /\.(ts|tsx|js)$/.test(entry.name) &&
      !/\.test\.(ts|tsx|js)$/.test(entry.name) &&
      !/^setupTests\./.test(entry.name) &&
      !entry.name.endsWith('.d.ts')
    ) {
      files.push(full);
    }
  }
  return files;
}

describe('table owners', () => {
  const tables = migrationTables();

  it('knows every table of the migrations, and only those', () => {
    expect(tables.length).toBeGreaterThan(20);
    expect(tables.filter(t => !TABLE_OWNERS[t])).toEqual([]);
    expect(Object.keys(TABLE_OWNERS).filter(t => !tables.includes(t))).toEqual(
      [],
    );
  });

  it('writes every table only in its owner', () => {
    const violations: string[] = [];
    const excepted: string[] = [];
    const used = new Set<string>();
    for (const full of sourceFiles()) {
      const file = path.relative(SRC, full).split(path.sep).join('/');
      const writes = findTableWrites(
        file,
        fs.readFileSync(full, 'utf8'),
        tables,
      );
      for (const w of writes) {
        if (TABLE_OWNERS[w.table]?.includes(file)) {
          continue;
        }
        const where = `${file}:${w.line} writes ${
          w.table
        } (owner: ${TABLE_OWNERS[w.table]?.join(', ')})`;
        if (TEMPORARY_EXCEPTIONS[file]?.includes(w.table)) {
          used.add(`${file}:${w.table}`);
          excepted.push(where);
        } else {
          violations.push(where);
        }
      }
    }
    const stale = Object.entries(TEMPORARY_EXCEPTIONS).flatMap(([f, ts]) =>
      ts.filter(t => !used.has(`${f}:${t}`)).map(t => `${f}: ${t}`),
    );
    // eslint-disable-next-line no-console
    console.log(
      [
        `TEMPORARY table-owner exceptions: ${excepted.length} write(s) in ${
          Object.keys(TEMPORARY_EXCEPTIONS).length
        } file(s)`,
        ...excepted.map(e => `  ${e}`),
        ...(stale.length
          ? ['Stale exceptions (remove them):', ...stale.map(s => `  ${s}`)]
          : []),
      ].join('\n'),
    );
    expect(violations).toEqual([]);
  });

  it('catches writes in knex chains and raw SQL', () => {
    const t = ['models', 'jobs', 'blobs', 'model_tags'];
    const sample = [
      `await tx('models').where({ id }).update({ a: 1 });`, // 1
      `await this.db<Row>('jobs as j')`, // 2
      `  .where('id', sub)`,
      `  .update(update)`,
      `  .returning('*');`,
      `await knex.insert(row).into('blobs');`, // 6
      `const row = await db('models').where(b => b.where({ a: 1 })).first();`, // 7: read
      `await db.raw('UPDATE jobs SET state = ? WHERE id = ?', [s, id]);`, // 8
      `await db.raw(\`DELETE FROM "model_tags" WHERE model_id = ?\`, [id]);`, // 9
      `// await db('models').delete();`, // 10: comment
      `await db('blobs').insert(x).onConflict('sha256').ignore();`, // 11
      `const rows = await db.select('*').from('jobs').where({ a });`, // 12: read
      `await db.table('models').where({ id }).del();`, // 13
      `await q.whereIn('id', db('models').select('id')).delete();`, // 14: subquery read
      `const held = this.db('jobs').where({ a });`, // 15
      `if (x) { held.where({ b }); }`, // 16: read
      `await held.clone().update({ c });`, // 17
      `await knex.batchInsert('model_tags', rows, 100);`, // 18
    ].join('\n');
    expect(findTableWrites('x.ts', sample, t)).toEqual([
      { file: 'x.ts', line: 1, table: 'models' },
      { file: 'x.ts', line: 2, table: 'jobs' },
      { file: 'x.ts', line: 11, table: 'blobs' },
      { file: 'x.ts', line: 13, table: 'models' },
      { file: 'x.ts', line: 17, table: 'jobs' },
      { file: 'x.ts', line: 6, table: 'blobs' },
      { file: 'x.ts', line: 18, table: 'model_tags' },
      { file: 'x.ts', line: 8, table: 'jobs' },
      { file: 'x.ts', line: 9, table: 'model_tags' },
    ]);
  });
});
