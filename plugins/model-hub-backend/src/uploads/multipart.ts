import { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { InputError } from '@backstage/errors';
import busboy, { Busboy } from 'busboy';

/**
 * Reads a `multipart/form-data` request holding exactly one file part,
 * optionally preceded by text fields (`path`, `kind`, `sha256`), and hands
 * the file's stream to `handle` while it arrives: nothing is buffered in
 * memory. The result counts only once the whole body is read; when the rest
 * of the body is invalid (a second file), `discard` undoes it.
 *
 * @internal
 */
export function parseMultipartFile<T>(
  req: IncomingMessage,
  limits: { maxFileBytes: number },
  handle: (part: {
    fields: Record<string, string>;
    filename?: string;
    stream: Readable;
  }) => Promise<T>,
  /** Undoes what `handle` did when the rest of the body turns out invalid. */
  discard?: (value: T) => Promise<void>,
): Promise<T> {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*;/i.test(type)) {
    return Promise.reject(
      new InputError(
        'Expected a multipart/form-data body with one file part (curl -F file=@<file>)',
      ),
    );
  }
  return new Promise<T>((resolve, reject) => {
    let bb: Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        limits: {
          files: 1,
          fields: 10,
          fieldSize: 4096,
          parts: 11,
          fileSize: limits.maxFileBytes,
        },
      });
    } catch (error) {
      reject(
        new InputError(`Invalid multipart body: ${(error as Error).message}`),
      );
      return;
    }
    const fields: Record<string, string> = {};
    let result: Promise<T> | undefined;
    let failed = false;
    const fail = (error: Error) => {
      if (failed) {
        return;
      }
      failed = true;
      req.unpipe(bb);
      req.resume();
      const pending = result;
      if (pending && discard) {
        pending
          .then(discard, () => {})
          .catch(() => {})
          .finally(() => reject(error));
      } else {
        reject(error);
      }
    };
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) {
        fail(new InputError(`Multipart field ${name} is too long`));
        return;
      }
      fields[name] = value;
    });
    bb.on('file', (_name, stream, info) => {
      if (result) {
        stream.resume();
        fail(new InputError('Send one file per request'));
        return;
      }
      stream.on('limit', () => {
        stream.destroy(
          new InputError(
            `Content is larger than the limit of ${limits.maxFileBytes} bytes`,
          ),
        );
      });
      result = handle({
        fields: { ...fields },
        filename: info.filename,
        stream,
      });
      result.catch(error => {
        stream.resume();
        result = undefined;
        fail(error);
      });
    });
    bb.on('filesLimit', () =>
      fail(new InputError('Send one file per request')),
    );
    bb.on('partsLimit', () => fail(new InputError('Too many multipart parts')));
    bb.on('fieldsLimit', () =>
      fail(new InputError('Too many multipart fields')),
    );
    bb.on('error', error =>
      fail(
        new InputError(`Invalid multipart body: ${(error as Error).message}`),
      ),
    );
    bb.on('close', () => {
      if (failed) {
        return;
      }
      if (!result) {
        fail(new InputError('The multipart body has no file part'));
        return;
      }
      result.then(resolve, error => {
        result = undefined;
        fail(error);
      });
    });
    req.pipe(bb);
  });
}
