// A round-robin TCP proxy on loopback: every new client connection goes to
// the next live backend instance (one marked ready by the harness); when
// that one refuses the connection, the next one is tried. It forwards bytes
// only (no HTTP parsing, no X-Forwarded-For), so the backends see a loopback
// peer, as the development sign-in requires.
import net from 'node:net';

const PATCH_LINE = /^PATCH \/api\/model-hub\/uploads\/([0-9a-f]{32})/;

export function startProxy(port, instances) {
  let next = 0;
  const stats = { connections: 0, perInstance: {}, refused: 0, noBackend: 0 };
  const sockets = new Set();
  // upload id -> the instances its PATCHes went to, in order
  const patches = {};

  function candidates() {
    const live = instances.filter(i => i.ready);
    const list = [];
    for (let k = 0; k < live.length; k++) {
      list.push(live[(next + k) % live.length]);
    }
    next = live.length ? (next + 1) % live.length : 0;
    return list;
  }

  function connect(client, list) {
    const target = list.shift();
    if (!target) {
      stats.noBackend += 1;
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: target.port });
    sockets.add(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      stats.perInstance[target.name] =
        (stats.perInstance[target.name] ?? 0) + 1;
      // the request line of the connection's first request names the
      // upload a PATCH belongs to
      client.once('data', chunk => {
        const m = PATCH_LINE.exec(chunk.toString('latin1', 0, 120));
        if (m) (patches[m[1]] ??= []).push(target.name);
      });
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on('error', () => {
      if (!connected) {
        stats.refused += 1;
        sockets.delete(upstream);
        connect(client, list);
      } else {
        client.destroy();
      }
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      if (connected) client.destroy();
    });
    client.on('close', () => upstream.destroy());
    client.on('error', () => upstream.destroy());
  }

  const server = net.createServer({ pauseOnConnect: true }, client => {
    stats.connections += 1;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    connect(client, candidates());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        stats,
        patchesOf: uploadId => patches[uploadId] ?? [],
        close: () =>
          new Promise(r => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    );
  });
}
