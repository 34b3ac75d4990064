// An HTTP front for s3rver that answers AbortMultipartUpload as S3 does.
// s3rver (3.7) does not implement it (405 MethodNotAllowed), so neither the
// store's abort of a failed write nor its clean-up of a killed instance's
// upload (the `s3_multipart_uploads` registry) could ever close an upload
// there, and the end-of-run check (`checkMultipart`, which lists s3rver's
// on-disk folder of open uploads) would count them all. The front removes
// the upload's folder of parts (`<dir>/<bucket>/._S3rver_uploads/<id>`,
// s3rver keeps nothing about an open upload in memory) and answers 204, or
// 404 NoSuchUpload when there is none; every other request is forwarded to
// s3rver unchanged (streamed, keep-alive).
import { existsSync, promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

export async function startS3Front(s3, port) {
  const target = new URL(s3.url);
  const agent = new http.Agent({ keepAlive: true });
  const stats = { aborted: 0, abortsOfNoUpload: 0 };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://front');
    const uploadId = url.searchParams.get('uploadId');
    if (req.method === 'DELETE' && uploadId && !uploadId.includes('/')) {
      req.resume();
      const bucket = decodeURIComponent(url.pathname).slice(1).split('/')[0];
      const dir = path.join(s3.dir, bucket, '._S3rver_uploads', uploadId);
      if (!existsSync(dir)) {
        stats.abortsOfNoUpload += 1;
        res.writeHead(404, { 'Content-Type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>',
        );
        return;
      }
      fs.rm(dir, { recursive: true, force: true }).then(
        () => {
          stats.aborted += 1;
          res.writeHead(204);
          res.end();
        },
        e => {
          res.writeHead(500);
          res.end(String(e));
        },
      );
      return;
    }
    const forward = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      upstream => {
        res.writeHead(upstream.statusCode, upstream.headers);
        upstream.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.on('error', () => forward.destroy());
    req.pipe(forward);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats,
    close: () =>
      new Promise(resolve => {
        server.closeAllConnections?.();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}
