import { once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  Server,
  IncomingMessage,
} from 'node:http';
import { AddressInfo } from 'node:net';

type Part = { partNumber: number; etag: string; size: number };

/**
 * s3rver in front of which ListParts and AbortMultipartUpload are answered:
 * s3rver does not implement them (405), and `@tus/s3-store` finds an
 * upload's offset with the first and terminates an upload with the second. The proxy
 * forwards every request to s3rver and remembers the parts s3rver accepted
 * (UploadPart: number, ETag, size), which it lists until the multipart
 * upload is completed or aborted.
 */
export async function listPartsProxy(endpoint: string) {
  const parts = new Map<string, Map<number, Part>>();
  const target = new URL(endpoint);
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://proxy');
    const uploadId = url.searchParams.get('uploadId');
    if (
      req.method === 'GET' &&
      uploadId &&
      !url.searchParams.has('partNumber')
    ) {
      const marker = Number(url.searchParams.get('part-number-marker') ?? 0);
      const listed = [...(parts.get(uploadId)?.values() ?? [])]
        .filter(p => p.partNumber > marker)
        .sort((x, y) => x.partNumber - y.partNumber);
      const [bucket, ...key] = decodeURIComponent(url.pathname)
        .slice(1)
        .split('/');
      res.setHeader('Content-Type', 'application/xml');
      res.end(`<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Bucket>${bucket}</Bucket><Key>${key.join(
        '/',
      )}</Key><UploadId>${uploadId}</UploadId>
<PartNumberMarker>${marker}</PartNumberMarker><MaxParts>10000</MaxParts><IsTruncated>false</IsTruncated>
${listed
  .map(
    p =>
      `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${p.etag.replace(
        /"/g,
        '&quot;',
      )}</ETag><Size>${
        p.size
      }</Size><LastModified>${new Date().toISOString()}</LastModified></Part>`,
  )
  .join('\n')}
</ListPartsResult>`);
      return;
    }
    if (req.method === 'DELETE' && uploadId) {
      // AbortMultipartUpload, which s3rver lacks too (405): the upload's
      // parts are forgotten (s3rver never shows them as objects)
      parts.delete(uploadId);
      req.resume();
      res.statusCode = 204;
      res.end();
      return;
    }
    let size = 0;
    const forward = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up: IncomingMessage) => {
        const status = up.statusCode ?? 500;
        if (uploadId && status < 300) {
          const partNumber = Number(url.searchParams.get('partNumber'));
          if (req.method === 'PUT' && partNumber) {
            const of = parts.get(uploadId) ?? new Map<number, Part>();
            of.set(partNumber, {
              partNumber,
              etag: String(up.headers.etag ?? ''),
              size,
            });
            parts.set(uploadId, of);
          } else if (req.method === 'POST' || req.method === 'DELETE') {
            parts.delete(uploadId); // completed or aborted
          }
        }
        res.writeHead(status, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
    });
    req.pipe(forward);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
