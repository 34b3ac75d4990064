import { randomBytes } from 'node:crypto';
import nodeFs, { promises as fs } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  createMockDirectory,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import { Harness } from './__testUtils__/harness';
import {
  createInstances,
  LOCKS,
  MIB,
  sha256,
  tusCreate,
  tusHead,
  tusOffset,
  tusPatch,
  tusUpload,
} from './__testUtils__/tus';
import { DatabaseLocker } from './DatabaseLocker';
import { HashingFileStore } from './HashingFileStore';
import { UploadSessionsStore } from './UploadSessionsStore';

// Two backend instances (two routers, file stores and lockers) on one
// database and one shared upload folder: any instance serves any request of
// an upload, no sticky sessions (issue 17).

jest.setTimeout(120_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const mockDir = createMockDirectory();

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe.each(databases.eachSupportedId())(
  'uploads on two instances (%s)',
  dbId => {
    let knex: Knex;
    let instances: Awaited<ReturnType<typeof createInstances>>;
    let a: Harness;
    let b: Harness;

    beforeAll(async () => {
      knex = await databases.init(dbId);
      const root = mockDir.resolve(`multi-${dbId}`);
      instances = await createInstances({
        knex,
        roots: [root, root],
        config: c => {
          c.writeMode = 'buffered';
        },
      });
      ({ a, b } = instances);
    });

    afterAll(() => instances.close());

    /** A PATCH whose body the test sends by hand (and may cut). */
    function rawPatch(
      origin: string,
      location: string,
      offset: number,
      length: number,
    ) {
      const req = http.request(`${origin}${location}`, {
        method: 'PATCH',
        headers: {
          'Tus-Resumable': '1.0.0',
          'Upload-Offset': String(offset),
          'Content-Type': 'application/offset+octet-stream',
          'Content-Length': String(length),
        },
      });
      const outcome = new Promise<number | 'cut'>(resolve => {
        req.on('response', res => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', () => resolve('cut'));
      });
      return { req, outcome };
    }

    /**
     * Writes the first MiB of `data` (3 MiB) through `first`, then starts a
     * PATCH of the rest on A that sends half a MiB and stalls.
     */
    async function stalledPatch(
      first: Harness,
      location: string,
      data: Buffer,
    ) {
      await tusPatch(first, location, data.subarray(0, MIB), 0).expect(204);
      const { origin } = await instances.listen(a);
      const stalled = rawPatch(origin, location, MIB, 2 * MIB);
      stalled.req.write(data.subarray(MIB, MIB + MIB / 2));
      await sleep(300);
      return stalled;
    }

    async function committed(path: string) {
      const files = await a.files();
      const rows = await knex('version_files').where({ path });
      return {
        file: files.find(f => f.path === path),
        rows: rows.length,
      };
    }

    async function leftovers(id: string) {
      const files = await fs.readdir(join(a.config.directory, 'tus'));
      return {
        session: await knex('upload_sessions').where({ id }).first(),
        lock: await a.uploads.locker.current(id),
        file: files.includes(id),
      };
    }
    const nothingLeft = { session: undefined, lock: undefined, file: false };

    it('creates on A, writes on A then B, HEADs on A, finishes on B', async () => {
      // one folder, two lock holders
      expect(a.config.directory).toBe(b.config.directory);
      expect(a.uploads.locker.instanceId).not.toBe(b.uploads.locker.instanceId);
      const data = randomBytes(4 * MIB);
      const location = await tusCreate(a, 'ab.bin', data.length);
      const id = location.split('/').pop()!;
      await tusPatch(a, location, data.subarray(0, 2 * MIB), 0).expect(204);
      await tusPatch(
        b,
        location,
        data.subarray(2 * MIB, 3 * MIB),
        2 * MIB,
      ).expect(204);
      expect(await tusOffset(a, location)).toBe(3 * MIB);
      const last = await tusPatch(b, location, data.subarray(3 * MIB), 3 * MIB);
      expect(last.status).toBe(204);
      expect(last.headers['x-content-sha256']).toBe(sha256(data));
      const { file, rows } = await committed('ab.bin');
      expect(file).toMatchObject({ sha256: sha256(data), size: data.length });
      expect(rows).toBe(1);
      expect(await leftovers(id)).toEqual(nothingLeft);
      // A still holds the hash state of its write; its clean-up drops it
      const states = (a.uploads.datastore as any).hashes as Map<string, {}>;
      expect(states.has(id)).toBe(true);
      await a.uploads.cleanup();
      expect(states.has(id)).toBe(false);
      // the upload is gone on both instances
      await tusHead(a, location).expect(404);
      await tusHead(b, location).expect(404);
    });

    it('resumes on B after a PATCH on A was cut', async () => {
      const data = randomBytes(3 * MIB);
      const location = await tusCreate(a, 'cut.bin', data.length);
      const cut = await stalledPatch(a, location, data);
      cut.req.destroy();
      expect(await cut.outcome).toBe('cut');
      const offset = await tusOffset(b, location);
      expect(offset).toBeGreaterThan(MIB);
      expect(offset).toBeLessThanOrEqual(MIB + MIB / 2);
      const last = await tusPatch(b, location, data.subarray(offset), offset);
      expect(last.status).toBe(204);
      expect(last.headers['x-content-sha256']).toBe(sha256(data));
      expect((await committed('cut.bin')).file?.sha256).toBe(sha256(data));
    });

    it('resumes on B from the durable offset after the holder on A died', async () => {
      const data = randomBytes(2 * MIB);
      const location = await tusCreate(a, 'dead.bin', data.length);
      const id = location.split('/').pop()!;
      await tusPatch(a, location, data.subarray(0, MIB), 0).expect(204);
      // a third instance takes the lock, writes bytes it never records as
      // durable, and is killed (no heartbeat, no unlock)
      const dead = new DatabaseLocker(knex, {
        settings: LOCKS,
        instanceId: 'dead',
      });
      const lockedAt = Date.now();
      await dead.newLock(id).lock(new AbortController().signal, () => {});
      dead.abandonAll();
      await fs.appendFile(
        join(a.config.directory, 'tus', id),
        randomBytes(300_000),
      );
      // A (which wrote this upload before) waits for the lease, truncates
      // what the dead writer left, and answers the durable offset
      expect(await tusOffset(a, location)).toBe(MIB);
      expect(Date.now() - lockedAt).toBeGreaterThanOrEqual(LOCKS.leaseMs - 50);
      expect((await fs.stat(join(a.config.directory, 'tus', id))).size).toBe(
        MIB,
      );
      const last = await tusPatch(b, location, data.subarray(MIB), MIB);
      expect(last.status).toBe(204);
      expect(last.headers['x-content-sha256']).toBe(sha256(data));
      expect(await leftovers(id)).toEqual(nothingLeft);
    });

    it('finishes on B an upload whose finish died with A (all bytes there, no file)', async () => {
      const data = randomBytes(MIB + 123);
      const location = await tusCreate(a, 'orphan.bin', data.length);
      const id = location.split('/').pop()!;
      // every byte written and durable, the finish never ran (its instance
      // was killed while committing)
      expect(
        await (a.uploads.datastore as HashingFileStore).writeFrom(
          Readable.from([data]),
          id,
          0,
          data.length,
        ),
      ).toBe(data.length);
      expect((await committed('orphan.bin')).rows).toBe(0);
      // the next HEAD, on any instance, does not call it complete
      expect(await tusOffset(b, location)).toBe(data.length - 1);
      const last = await tusPatch(
        b,
        location,
        data.subarray(-1),
        data.length - 1,
      );
      expect(last.status).toBe(204);
      expect(last.headers['x-content-sha256']).toBe(sha256(data));
      const { file, rows } = await committed('orphan.bin');
      expect(rows).toBe(1);
      expect(file?.sha256).toBe(sha256(data));
      expect(await leftovers(id)).toEqual(nothingLeft);
    });

    it('re-hashes the prefix unless this instance was the last writer', async () => {
      const data = randomBytes(2 * MIB);
      const location = await tusCreate(b, 'gen.bin', data.length);
      const id = location.split('/').pop()!;
      // B writes the first half: its hash state is cached at MIB
      await tusPatch(b, location, randomBytes(MIB), 0).expect(204);
      // another writer replaced that half (same offset, other bytes) and
      // recorded itself as the last writer
      const path = join(b.config.directory, 'tus', id);
      await fs.writeFile(path, data.subarray(0, MIB));
      await new UploadSessionsStore(knex).setDurableOffset(id, MIB, 'other');
      const last = await tusPatch(b, location, data.subarray(MIB), MIB);
      expect(last.status).toBe(204);
      expect(last.headers['x-content-sha256']).toBe(sha256(data));
    });

    it('extends its cached hash by what other instances wrote after it, unless one rewrote earlier bytes', async () => {
      // A, B, A, B: each instance extends its own state by the chunk the
      // other wrote in between
      const data = randomBytes(4 * MIB);
      const location = await tusCreate(a, 'abab.bin', data.length);
      const reads = jest.spyOn(nodeFs, 'createReadStream');
      let finished: string | undefined;
      for (let i = 0; i < 4; i++) {
        const res = await tusPatch(
          i % 2 ? b : a,
          location,
          data.subarray(i * MIB, (i + 1) * MIB),
          i * MIB,
        );
        expect(res.status).toBe(204);
        finished = res.headers['x-content-sha256'];
      }
      expect(finished).toBe(sha256(data));
      const tusDir = join(a.config.directory, 'tus');
      const prefixReads = reads.mock.calls
        .filter(([path]) => String(path).startsWith(tusDir))
        .map(([, options]) => (options as { start: number }).start);
      reads.mockRestore();
      // B re-hashed [0, 1 MiB) once (it had no state); then A read only
      // [1, 2 MiB) and B only [2, 3 MiB)
      expect(prefixReads).toEqual([0, MIB, 2 * MIB]);

      // B wrote [0, 1 MiB), A [1, 2 MiB); then a writer started again from
      // 0 (the recorded writes say so): B's state at 1 MiB is no longer the
      // file's prefix, and B re-hashes it
      const other = randomBytes(3 * MIB);
      const loc2 = await tusCreate(b, 'rewritten.bin', other.length);
      const id = loc2.split('/').pop()!;
      await tusPatch(b, loc2, randomBytes(MIB), 0).expect(204);
      await tusPatch(a, loc2, randomBytes(MIB), MIB).expect(204);
      await fs.writeFile(
        join(b.config.directory, 'tus', id),
        other.subarray(0, 2 * MIB),
      );
      await new UploadSessionsStore(knex).setDurableOffset(
        id,
        2 * MIB,
        'rewriter',
        0,
      );
      const last = await tusPatch(b, loc2, other.subarray(2 * MIB), 2 * MIB);
      expect(last.status).toBe(204);
      expect(last.headers['x-content-sha256']).toBe(sha256(other));
    });

    it('lets one of two PATCHes at the same offset write: the other gets a tus error', async () => {
      const data = randomBytes(3 * MIB);
      const location = await tusCreate(a, 'race.bin', data.length);
      // A is writing (slowly) when B gets a PATCH at the same offset: B asks
      // A's request to end; A keeps what it wrote; B's offset is stale: 409
      const slow = await stalledPatch(b, location, data);
      const second = await tusPatch(b, location, data.subarray(MIB), MIB);
      expect(second.status).toBe(409);
      expect(second.text).toBe('Upload-Offset conflict\n');
      expect(await slow.outcome).toBe('cut');
      const offset = await tusOffset(a, location);
      expect(offset).toBe(MIB + MIB / 2);
      const last = await tusPatch(a, location, data.subarray(offset), offset);
      expect(last.headers['x-content-sha256']).toBe(sha256(data));

      // both at once, whole bodies: at most one finishes the upload
      const both = randomBytes(2 * MIB);
      const loc2 = await tusCreate(b, 'race2.bin', both.length);
      const id2 = loc2.split('/').pop()!;
      await tusPatch(a, loc2, both.subarray(0, MIB), 0).expect(204);
      const statuses = (
        await Promise.all([
          tusPatch(a, loc2, both.subarray(MIB), MIB).then(
            r => r.status,
            () => 'cut',
          ),
          tusPatch(b, loc2, both.subarray(MIB), MIB).then(
            r => r.status,
            () => 'cut',
          ),
        ])
      ).sort();
      expect(statuses.filter(s => s === 204).length).toBeLessThanOrEqual(1);
      for (const s of statuses) {
        expect([204, 404, 409, 423, 'cut']).toContain(s);
      }
      // the client goes on from what the server has, until done
      for (let i = 0; i < 5; i++) {
        const res = await tusHead(b, loc2);
        if (res.status === 404) {
          break;
        }
        const offset2 = Number(res.headers['upload-offset']);
        await tusPatch(b, loc2, both.subarray(offset2), offset2);
      }
      const { file, rows } = await committed('race2.bin');
      expect(file).toMatchObject({ sha256: sha256(both), size: both.length });
      expect(rows).toBe(1);
      expect(await leftovers(id2)).toEqual(nothingLeft);
    });

    it('uploads with tus-js-client through a round-robin proxy over both instances', async () => {
      const { endpoint, served } = await instances.roundRobin();
      const data = randomBytes(3 * MIB);
      const result = await tusUpload(data, {
        endpoint,
        chunkSize: MIB / 2,
        retryDelays: [0, 200, 500, 1000, 2000],
        metadata: { model: 'default/llama', version: 'v1', path: 'rr.bin' },
      });
      expect(result.sha256).toBe(sha256(data));
      // POST and six PATCHes, alternating
      expect(served.length).toBeGreaterThanOrEqual(7);
      expect(new Set(served).size).toBe(2);
      expect((await committed('rr.bin')).file?.sha256).toBe(sha256(data));
    });
  },
);
