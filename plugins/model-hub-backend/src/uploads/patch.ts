import { ERRORS, Locker } from '@tus/server';
import { Request, Response } from 'express';
import { finishUpload } from './finish';
import { HashingFileStore } from './HashingFileStore';
import { sendTusError, TusHttpError } from './tusErrors';
import { UploadContext } from './uploadContext';

/**
 * tus PATCH, served on the Node request directly. @tus/server converts
 * requests to web streams (srvx) and pipes them through three more streams,
 * which halves throughput on small machines; this handler keeps its protocol
 * rules (Tus-Resumable, Upload-Offset match or 409, offset+octet-stream,
 * size limits, expiration, the per-upload lock shared by all instances, a
 * newer request taking over from a stale one) and writes through the same
 * hashing file store. The last PATCH of an upload finishes it, still
 * holding the lock (no second request, on any instance, finishes it too).
 *
 * @internal
 */
export function createPatchHandler(
  u: UploadContext,
  locker: Locker,
  datastore: HashingFileStore,
) {
  const { config } = u;
  return async function patchUpload(req: Request, res: Response) {
    const id = req.params.id;
    try {
      if (req.headers['tus-resumable'] !== '1.0.0') {
        throw new TusHttpError(412, 'Tus-Resumable Required\n');
      }
      await u.authorizeUpload(req, id);
      const offsetHeader = String(req.headers['upload-offset'] ?? '');
      if (!/^\d{1,16}$/.test(offsetHeader)) {
        throw ERRORS.MISSING_OFFSET;
      }
      if (req.headers['content-type'] !== 'application/offset+octet-stream') {
        throw ERRORS.INVALID_CONTENT_TYPE;
      }
      const offset = Number(offsetHeader);
      const lock = locker.newLock(id);
      // a newer request for this upload (the client reconnected, on any
      // instance) ends this one, keeping the bytes it wrote; not while the
      // upload is being finished
      let releasable = true;
      await lock.lock(new AbortController().signal, () => {
        if (releasable) {
          req.destroy();
        }
      });
      const headers: Record<string, string> = { 'Tus-Resumable': '1.0.0' };
      try {
        const upload = await datastore.getUpload(id);
        const created = upload.creation_date
          ? new Date(upload.creation_date).getTime()
          : Date.now();
        if (Date.now() > created + config.expirationMs) {
          throw ERRORS.FILE_NO_LONGER_EXISTS;
        }
        if (upload.offset !== offset) {
          throw ERRORS.INVALID_OFFSET;
        }
        const size = upload.size ?? 0;
        const length = req.headers['content-length'];
        if (length !== undefined && offset + Number(length) > size) {
          throw ERRORS.ERR_SIZE_EXCEEDED;
        }
        const newOffset = await datastore.writeFrom(
          req,
          id,
          offset,
          size - offset,
        );
        headers['Upload-Offset'] = String(newOffset);
        if (newOffset === upload.size) {
          releasable = false;
          Object.assign(headers, await finishUpload(u, req, upload));
        } else if (upload.creation_date) {
          headers['Upload-Expires'] = new Date(
            new Date(upload.creation_date).getTime() + config.expirationMs,
          ).toUTCString();
        }
      } finally {
        await lock.unlock();
      }
      res.status(204).set(headers).end();
    } catch (error) {
      sendTusError(res, error);
    }
  };
}
