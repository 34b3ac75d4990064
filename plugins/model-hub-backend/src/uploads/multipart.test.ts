import { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { parseMultipartFile } from './multipart';

const BOUNDARY = 'x-model-hub-boundary';

type Part = { name: string; value: string | Buffer; filename?: string };

/** A request with a multipart body made of `parts`. */
function multipartRequest(
  parts: Part[],
  contentType = `multipart/form-data; boundary=${BOUNDARY}`,
): IncomingMessage {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = part.filename
      ? `form-data; name="${part.name}"; filename="${part.filename}"`
      : `form-data; name="${part.name}"`;
    chunks.push(
      Buffer.from(
        `--${BOUNDARY}\r\nContent-Disposition: ${disposition}\r\n${
          part.filename ? 'Content-Type: application/octet-stream\r\n' : ''
        }\r\n`,
      ),
      Buffer.from(part.value),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Object.assign(Readable.from(chunks), {
    headers: { 'content-type': contentType },
  }) as unknown as IncomingMessage;
}

/** Reads the file part into memory; for the tests only. */
async function readAll(part: { stream: Readable }) {
  const chunks: Buffer[] = [];
  for await (const chunk of part.stream) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const LIMITS = { maxFileBytes: 1024 };

describe('parseMultipartFile', () => {
  it('hands over the fields before the file and the file as a stream', async () => {
    const result = await parseMultipartFile(
      multipartRequest([
        { name: 'path', value: 'weights/a.bin' },
        { name: 'kind', value: 'weights' },
        { name: 'file', value: Buffer.from('hello'), filename: 'a.bin' },
      ]),
      LIMITS,
      async part => ({
        fields: part.fields,
        filename: part.filename,
        content: (await readAll(part)).toString(),
      }),
    );
    expect(result).toEqual({
      fields: { path: 'weights/a.bin', kind: 'weights' },
      filename: 'a.bin',
      content: 'hello',
    });
  });

  it('refuses a body that is not multipart/form-data', async () => {
    const handle = jest.fn();
    await expect(
      parseMultipartFile(
        multipartRequest([], 'application/octet-stream'),
        LIMITS,
        handle,
      ),
    ).rejects.toThrow(
      'Expected a multipart/form-data body with one file part (curl -F file=@<file>)',
    );
    await expect(
      parseMultipartFile(
        multipartRequest([], 'multipart/form-data; charset=utf-8'),
        LIMITS,
        handle,
      ),
    ).rejects.toThrow(/^Invalid multipart body: /);
    expect(handle).not.toHaveBeenCalled();
  });

  it('refuses a body without a file part', async () => {
    await expect(
      parseMultipartFile(
        multipartRequest([{ name: 'path', value: 'a.bin' }]),
        LIMITS,
        async () => 'never',
      ),
    ).rejects.toThrow('The multipart body has no file part');
  });

  it('refuses a second file and undoes what the first one did', async () => {
    const discard = jest.fn(async (_value: string) => {});
    await expect(
      parseMultipartFile(
        multipartRequest([
          { name: 'file', value: 'one', filename: 'a.bin' },
          { name: 'file', value: 'two', filename: 'b.bin' },
        ]),
        LIMITS,
        async part => (await readAll(part)).toString(),
        discard,
      ),
    ).rejects.toThrow('Send one file per request');
    expect(discard).toHaveBeenCalledWith('one');
  });

  it('ends the file stream with an error past the size limit', async () => {
    await expect(
      parseMultipartFile(
        multipartRequest([
          { name: 'file', value: Buffer.alloc(1025), filename: 'a.bin' },
        ]),
        LIMITS,
        readAll,
      ),
    ).rejects.toThrow('Content is larger than the limit of 1024 bytes');
  });

  it('refuses fields that are too long or too many', async () => {
    const file = { name: 'file', value: 'x', filename: 'a.bin' };
    await expect(
      parseMultipartFile(
        multipartRequest([{ name: 'path', value: 'a'.repeat(4097) }, file]),
        LIMITS,
        readAll,
      ),
    ).rejects.toThrow('Multipart field path is too long');
    const fields = Array.from({ length: 11 }, (_, i) => ({
      name: `f${i}`,
      value: 'v',
    }));
    await expect(
      parseMultipartFile(multipartRequest([...fields, file]), LIMITS, readAll),
    ).rejects.toThrow(/^Too many multipart (fields|parts)$/);
  });

  it('passes on what the handler throws', async () => {
    await expect(
      parseMultipartFile(
        multipartRequest([{ name: 'file', value: 'x', filename: 'a.bin' }]),
        LIMITS,
        async part => {
          part.stream.resume();
          throw new Error('store refused');
        },
      ),
    ).rejects.toThrow('store refused');
  });
});
