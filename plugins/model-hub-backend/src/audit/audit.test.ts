import { join } from 'node:path';
import {
  createMockDirectory,
  mockCredentials,
  mockErrorHandler,
  mockServices,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import express from 'express';
import request from 'supertest';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { ModelCondition } from '../database/modelReadFilter';
import { createRouter } from '../tests/__testUtils__/router';
import { addNamespaceRoutes } from '../service/routes/namespaces';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { addAuditRoutes, csvCell, MAX_EXPORT_ROWS } from './routes';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const mockDir = createMockDirectory();

const AUDITOR = 'user:default/auditor';
const DANA = 'user:default/dana'; // admin
const CAROL = 'user:default/carol'; // neither
const ALICE = 'user:default/alice';
const BOB = 'user:default/bob';

const grants: Record<string, string[]> = {
  [AUDITOR]: ['model-hub.audit.read'],
  [DANA]: ['model-hub.admin'],
};

/** Parses CSV text (RFC 4180: quoted cells, doubled quotes, CRLF rows). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else {
      cell += c;
    }
  }
  return rows;
}

describe.each(databases.eachSupportedId())('audit routes (%s)', id => {
  async function setup(readable: ModelCondition = { op: 'all' }) {
    const knex = await databases.init(id);
    const store = await DatabaseModelHubStore.create({
      database: mockServices.database({ knex, migrations: { skip: false } }),
    });
    const artifacts = await LocalArtifactStore.create({
      path: join(mockDir.path, String(Math.random())),
    });
    const allow = (user: string, name: string) =>
      grants[user]?.includes(name)
        ? AuthorizeResult.ALLOW
        : AuthorizeResult.DENY;
    const router = await createRouter({
      store,
      artifacts,
      auth: mockServices.auth(),
      httpAuth: mockServices.httpAuth({
        defaultCredentials: mockCredentials.user(AUDITOR),
      }),
      userInfo: {
        getUserInfo: async (credentials: any) => ({
          userEntityRef: credentials.principal.userEntityRef,
          ownershipEntityRefs: [credentials.principal.userEntityRef],
        }),
      },
      permissions: mockServices.permissions.mock({
        authorize: (async (requests: any[], options: any) =>
          requests.map(r => ({
            result: allow(
              options.credentials.principal.userEntityRef,
              r.permission.name,
            ),
          }))) as any,
      }),
      // the read decision of models, as a policy would give it
      modelAccess: {
        readCondition: async () => readable,
        canRead: async () => true,
        decide: async () => true,
      } as any,
      auditor: mockServices.auditor.mock(),
      catalog: catalogServiceMock({ entities: [] }),
      logger: mockServices.logger.mock(),
      maxUploadBytes: 1000,
      gcGracePeriodMs: 0,
      extensions: [
        (r, ctx) => {
          addAuditRoutes(r, ctx, knex);
          addNamespaceRoutes(r, ctx, knex);
        },
      ],
    });
    const app = express().use(router).use(mockErrorHandler());

    // models and a trail written at known times
    for (const [namespace, name] of [
      ['default', 'llama'],
      ['default', 'hidden'],
      ['Research', 'bert'],
    ]) {
      await store.createModel({
        namespace,
        name,
        type: 'llm',
        lifecycle: 'experimental',
        owner: 'group:default/team',
        sourceType: 'upload',
        tags: [],
        createdBy: ALICE,
      });
    }
    const at = (iso: string) => new Date(iso);
    const rows = [
      [
        'model-create',
        ALICE,
        'model:default/llama',
        null,
        '2026-11-30T10:00:00Z',
        {},
      ],
      [
        'version-create',
        ALICE,
        'model:default/llama',
        'v1',
        '2026-11-30T11:00:00Z',
        {},
      ],
      [
        'version-submit',
        ALICE,
        'model:default/llama',
        'v1',
        '2026-12-01T09:00:00Z',
        {},
      ],
      [
        'version-approve',
        BOB,
        'model:default/llama',
        'v1',
        '2026-12-01T23:59:59Z',
        { comment: 'ok, "fine"\nshipped' },
      ],
      [
        'version-promote',
        ALICE,
        'model:default/llama',
        'v1',
        '2026-12-02T08:00:00Z',
        {},
      ],
      [
        'model-create',
        ALICE,
        'model:default/hidden',
        null,
        '2026-12-01T12:00:00Z',
        {},
      ],
      [
        'mirror-token-create',
        '=cmd|calc',
        null,
        null,
        '2026-12-01T13:00:00Z',
        { name: '+x' },
      ],
      [
        'model-create',
        BOB,
        'model:research/bert',
        null,
        '2026-12-02T09:00:00Z',
        {},
      ],
    ] as const;
    // the trail is appended in time order: ids follow the time
    const ordered = [...rows].sort((a, b) => a[4].localeCompare(b[4]));
    for (const [
      eventId,
      actor,
      modelRef,
      versionLabel,
      createdAt,
      meta,
    ] of ordered) {
      await knex('audit_events').insert({
        event_id: eventId,
        actor,
        model_ref: modelRef,
        version_label: versionLabel,
        meta: JSON.stringify(meta),
        created_at: at(createdAt),
      });
    }
    return { app, knex };
  }

  const as = (user: string) => mockCredentials.user.header(user);

  it('needs model-hub.audit.read or model-hub.admin', async () => {
    const { app } = await setup();
    for (const path of ['/audit', '/audit/export', '/audit/events']) {
      const denied = await request(app)
        .get(path)
        .set('Authorization', as(CAROL));
      expect(denied.status).toBe(403);
      expect(denied.body.error.message).toBe(
        'Not allowed: model-hub.audit.read',
      );
      await request(app)
        .get(path)
        .set('Authorization', as(AUDITOR))
        .expect(200);
      await request(app).get(path).set('Authorization', as(DANA)).expect(200);
    }
  });

  it('searches by actor, model, event and date, pages newest first', async () => {
    const { app } = await setup();
    const all = await request(app).get('/audit').expect(200);
    expect(all.body.totalCount).toBe(8);
    expect(all.body.items.map((i: any) => i.createdAt)).toEqual(
      [...all.body.items.map((i: any) => i.createdAt)].sort().reverse(),
    );
    expect(all.body.items[0]).toEqual({
      id: expect.any(Number),
      eventId: 'model-create',
      actor: BOB,
      modelRef: 'model:research/bert',
      meta: {},
      createdAt: '2026-12-02T09:00:00.000Z',
    });

    const byActor = await request(app)
      .get('/audit')
      .query({ actor: 'bob' })
      .expect(200);
    expect(byActor.body.items.map((i: any) => i.eventId)).toEqual([
      'model-create',
      'version-approve',
    ]);
    expect(byActor.body.items[1].meta).toEqual({
      comment: 'ok, "fine"\nshipped',
    });

    const byModel = await request(app)
      .get('/audit')
      .query({
        model: 'default/llama',
        event: 'version-submit,version-approve',
      })
      .expect(200);
    expect(byModel.body.items.map((i: any) => i.eventId)).toEqual([
      'version-approve',
      'version-submit',
    ]);

    // a date is the whole UTC day, both ends inclusive
    const day = await request(app)
      .get('/audit')
      .query({ from: '2026-12-01', to: '2026-12-01', order: 'asc' })
      .expect(200);
    expect(day.body.items.map((i: any) => i.createdAt)).toEqual([
      '2026-12-01T09:00:00.000Z',
      '2026-12-01T12:00:00.000Z',
      '2026-12-01T13:00:00.000Z',
      '2026-12-01T23:59:59.000Z',
    ]);
    const range = await request(app)
      .get('/audit')
      .query({ from: '2026-12-01T12:00:00Z', to: '2026-12-02T08:00:00Z' })
      .expect(200);
    expect(range.body.totalCount).toBe(4);

    const page = await request(app)
      .get('/audit')
      .query({ offset: 2, limit: 3 })
      .expect(200);
    expect(page.body).toMatchObject({ totalCount: 8, offset: 2, limit: 3 });
    expect(page.body.items.map((i: any) => i.id)).toEqual(
      all.body.items.slice(2, 5).map((i: any) => i.id),
    );
  });

  it('leaves out the entries of models the caller may not read', async () => {
    const { app } = await setup({
      op: 'not',
      item: {
        op: 'in',
        column: 'entity_ref',
        values: ['model:default/hidden'],
      },
    });
    const res = await request(app).get('/audit').expect(200);
    expect(res.body.totalCount).toBe(7);
    expect(
      res.body.items.some((i: any) => i.modelRef === 'model:default/hidden'),
    ).toBe(false);
    // entries of no model stay
    expect(
      res.body.items.some((i: any) => i.eventId === 'mirror-token-create'),
    ).toBe(true);
    const csv = await request(app).get('/audit/export').expect(200);
    expect(csv.text).not.toContain('model:default/hidden');
  });

  it('answers 400 for bad filters', async () => {
    const { app } = await setup();
    for (const query of [
      { from: 'yesterday' },
      { to: '2026-13-45' },
      { from: '2026-12-02', to: '2026-12-01' },
      { limit: 0 },
      { limit: 201 },
      { order: 'sideways' },
      { event: 'DROP TABLE' },
      { actor: 'user:' },
      { unknown: 'x' },
    ]) {
      const res = await request(app).get('/audit').query(query);
      expect(res.status).toBe(400);
      expect(res.body.error.name).toBe('InputError');
    }
  });

  it('exports CSV with the same filters, quoted and defused, and audits the export', async () => {
    const { app, knex } = await setup();
    const res = await request(app)
      .get('/audit/export')
      .query({ from: '2026-12-01', to: '2026-12-01' })
      .buffer(true)
      .parse((r, cb) => {
        let data = '';
        r.setEncoding('utf8');
        r.on('data', chunk => (data += chunk));
        r.on('end', () => cb(null, data));
      })
      .expect(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(
      'attachment; filename="model-hub-audit-2026-12-01-2026-12-01.csv"',
    );
    expect(res.headers['x-total-count']).toBe('4');
    expect(res.headers['x-truncated']).toBeUndefined();
    const rows = parseCsv(res.body as string);
    expect(rows[0]).toEqual([
      'id',
      'createdAt',
      'eventId',
      'actor',
      'modelRef',
      'versionLabel',
      'meta',
    ]);
    expect(rows.slice(1).map(r => [r[1], r[2], r[3], r[4], r[5]])).toEqual([
      [
        '2026-12-01T23:59:59.000Z',
        'version-approve',
        BOB,
        'model:default/llama',
        'v1',
      ],
      ['2026-12-01T13:00:00.000Z', 'mirror-token-create', "'=cmd|calc", '', ''],
      [
        '2026-12-01T12:00:00.000Z',
        'model-create',
        ALICE,
        'model:default/hidden',
        '',
      ],
      [
        '2026-12-01T09:00:00.000Z',
        'version-submit',
        ALICE,
        'model:default/llama',
        'v1',
      ],
    ]);
    // quotes, commas and newlines survive the round trip
    expect(JSON.parse(rows[1][6])).toEqual({ comment: 'ok, "fine"\nshipped' });

    const exported = await knex('audit_events').where({
      event_id: 'audit-export',
    });
    expect(exported).toHaveLength(1);
    expect(exported[0].actor).toBe(AUDITOR);
    expect(JSON.parse(exported[0].meta)).toMatchObject({
      filter: { from: '2026-12-01', to: '2026-12-01' },
    });
  });

  it('exports in batches past one page', async () => {
    const { app, knex } = await setup();
    const now = Date.now();
    const many = Array.from({ length: 2500 }, (_, i) => ({
      event_id: 'artifact-upload',
      actor: ALICE,
      model_ref: 'model:default/llama',
      version_label: 'v1',
      meta: JSON.stringify({ n: i }),
      created_at: new Date(now + i),
    }));
    for (let i = 0; i < many.length; i += 200) {
      await knex('audit_events').insert(many.slice(i, i + 200));
    }
    const res = await request(app)
      .get('/audit/export')
      .query({ event: 'artifact-upload' })
      .buffer(true)
      .parse((r, cb) => {
        let data = '';
        r.setEncoding('utf8');
        r.on('data', chunk => (data += chunk));
        r.on('end', () => cb(null, data));
      })
      .expect(200);
    const rows = parseCsv(res.body as string).slice(1);
    expect(rows).toHaveLength(2500);
    const ns = rows.map(r => JSON.parse(r[6]).n);
    expect(new Set(ns).size).toBe(2500);
    expect(ns[0]).toBe(2499);
    expect(MAX_EXPORT_ROWS).toBe(100_000);
  });

  it('lists the event ids and the namespaces', async () => {
    const { app } = await setup({
      op: 'not',
      item: {
        op: 'in',
        column: 'entity_ref',
        values: ['model:default/hidden'],
      },
    });
    const events = await request(app).get('/audit/events').expect(200);
    expect(events.body.items).toEqual([
      'mirror-token-create',
      'model-create',
      'version-approve',
      'version-create',
      'version-promote',
      'version-submit',
    ]);
    const namespaces = await request(app).get('/namespaces').expect(200);
    expect(namespaces.body.items).toEqual([
      { namespace: 'default', count: 1 },
      { namespace: 'research', count: 1 },
    ]);
  });

  it('csvCell quotes and defuses', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell(undefined)).toBe('');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('-2')).toBe("'-2");
    expect(csvCell('@x,y')).toBe('"\'@x,y"');
  });
});
