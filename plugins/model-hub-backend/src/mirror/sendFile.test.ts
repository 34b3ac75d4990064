import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createMockDirectory } from '@backstage/backend-test-utils';
import express from 'express';
import { sendContent } from './sendFile';

const mockDir = createMockDirectory();

describe('sendContent', () => {
  const content = randomBytes(9 * 1024 * 1024 + 123);
  let base: string;
  let server: ReturnType<express.Express['listen']>;
  const results: boolean[] = [];

  beforeAll(async () => {
    const path = join(mockDir.path, 'blob');
    await fs.writeFile(path, content);
    const app = express().get('/:kind', async (req, res) => {
      const [start, end] = String(req.query.range ?? `0-${content.length - 1}`)
        .split('-')
        .map(Number);
      res.setHeader('Content-Length', String(end - start + 1));
      const stream =
        req.params.kind === 'local'
          ? createReadStream(path, { start, end })
          : Readable.from([content.subarray(start, end + 1)]);
      results.push(await sendContent(res, stream, { start, end }));
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise(r => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise(r => server.close(r)));

  it.each(['local', 'stream'])(
    'sends whole files and ranges (%s)',
    async kind => {
      const whole = await fetch(`${base}/${kind}`);
      expect(Buffer.from(await whole.arrayBuffer()).equals(content)).toBe(true);
      for (const [start, end] of [
        [0, 0],
        [5, 4 * 1024 * 1024 + 7],
        [content.length - 1, content.length - 1],
        [4 * 1024 * 1024, 8 * 1024 * 1024 - 1],
      ]) {
        const part = await fetch(`${base}/${kind}?range=${start}-${end}`);
        expect(
          Buffer.from(await part.arrayBuffer()).equals(
            content.subarray(start, end + 1),
          ),
        ).toBe(true);
      }
    },
  );

  it('finishes when the client goes away', async () => {
    const before = results.length;
    const controller = new AbortController();
    const res = await fetch(`${base}/local`, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await expect(reader.read()).rejects.toThrow();
    // the handler ends (true when the kernel took every byte already,
    // false when the client was gone first) and never hangs
    for (let i = 0; i < 50 && results.length === before; i++) {
      await new Promise(r => setTimeout(r, 50));
    }
    expect(results.length).toBe(before + 1);
  });
});
