// A read-only npm registry for the packed @model-hub tarballs, on 127.0.0.1.
// The stock app's yarn resolves the @model-hub scope here (npmScopes) as it
// would from the public registry after a release; everything else still
// comes from the npm registry.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

function manifestOf(tarball) {
  const json = execFileSync('tar', ['-xzOf', tarball, 'package/package.json']);
  return JSON.parse(json.toString('utf8'));
}

/** Starts the registry; `tarballs` are paths of packed packages. */
export async function startScopeRegistry(tarballs) {
  const packages = new Map();
  const files = new Map();
  const server = createServer();
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  // an old publish time: the stock app's npmMinimalAgeGate (3 days) applies
  // to releases, which these tarballs stand in for
  const published = new Date(Date.now() - 30 * 86400_000).toISOString();
  for (const tarball of tarballs) {
    const data = readFileSync(tarball);
    const manifest = manifestOf(tarball);
    const file = `${manifest.name.replace('/', '-')}-${manifest.version}.tgz`;
    files.set(`/${file}`, data);
    packages.set(manifest.name, {
      name: manifest.name,
      'dist-tags': { latest: manifest.version },
      time: {
        created: published,
        modified: published,
        [manifest.version]: published,
      },
      versions: {
        [manifest.version]: {
          ...manifest,
          _id: `${manifest.name}@${manifest.version}`,
          dist: {
            tarball: `${base}/${file}`,
            shasum: createHash('sha1').update(data).digest('hex'),
            integrity: `sha512-${createHash('sha512')
              .update(data)
              .digest('base64')}`,
          },
        },
      },
    });
  }
  const requests = [];
  server.on('request', (req, res) => {
    const url = decodeURIComponent(new URL(req.url, base).pathname);
    requests.push(url);
    const file = files.get(url);
    if (file) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(file);
      return;
    }
    const pkg = packages.get(url.slice(1));
    if (pkg) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(pkg));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not found' }));
  });
  return {
    url: base,
    names: [...packages.keys()],
    requests,
    close: () => new Promise(resolve => server.close(resolve)),
  };
}

export const tarballName = p => path.basename(p);
