import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AddressInfo } from 'node:net';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { Knex } from 'knex';
import { modelHubPlugin } from '../../plugin';
import { tarEnd, tarHeader, tarPadding } from '../tar';

/** An Ed25519 key pair as PEM, plus the key objects. */
export function portalKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey,
    publicKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export type Portal = {
  base: string;
  knex: Knex;
  storePath: string;
  stagingPath: string;
  stop: () => Promise<void>;
  /** fetch as a user (`Authorization` of the mock credentials). */
  call: (
    user: string,
    path: string,
    init?: RequestInit & { json?: unknown },
  ) => Promise<Response>;
};

/**
 * One portal: the real backend plugin on its own database and store, on a
 * real HTTP server (permissions allow everything; users are picked by the
 * mock credentials' header).
 */
export async function startPortal(options: {
  databases: TestDatabases;
  databaseId: Parameters<TestDatabases['init']>[0];
  dir: string;
  transfer: Record<string, unknown>;
}): Promise<Portal> {
  const knex = await options.databases.init(options.databaseId);
  const storePath = join(options.dir, 'store');
  const stagingPath = join(options.dir, 'staging');
  const backend = await startTestBackend({
    features: [
      modelHubPlugin,
      mockServices.rootConfig.factory({
        data: {
          backend: { baseUrl: 'http://localhost:7007' },
          modelHub: {
            storage: { local: { path: storePath } },
            mirror: { allowAnonymous: true },
            approvals: { requiredChecks: [] },
            transfer: { stagingDirectory: stagingPath, ...options.transfer },
          },
        },
      }),
      mockServices.database.factory({ knex }),
      mockServices.httpAuth.factory({
        defaultCredentials: mockCredentials.none(),
      }),
      catalogServiceMock.factory({ entities: [] }),
    ],
  });
  const { port } = backend.server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}/api/model-hub`;
  return {
    base,
    knex,
    storePath,
    stagingPath,
    stop: () => backend.stop(),
    call: (user, path, init = {}) => {
      const { json, ...rest } = init;
      return fetch(`${base}${path}`, {
        ...rest,
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
        headers: {
          Authorization: mockCredentials.user.header(`user:default/${user}`),
          ...(json !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...(rest.headers as Record<string, string>),
        },
      });
    },
  };
}

/** Every file under a folder (recursively), relative names. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, prefix: string) => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        await walk(join(d, e.name), `${prefix}${e.name}/`);
      } else {
        out.push(`${prefix}${e.name}`);
      }
    }
  };
  await walk(dir, '');
  return out.sort();
}

/** An entry of a tar held in memory. */
export type MemoryEntry = {
  name: string;
  data: Buffer;
  type?: 'file' | 'directory';
  declaredSize?: number;
};

/** The entries of a (small) tar in memory. */
export function parseTar(tar: Buffer): MemoryEntry[] {
  const entries: MemoryEntry[] = [];
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every(b => b === 0)) {
      break;
    }
    const name = header.toString('utf8', 0, 100).replace(/\0.*$/s, '');
    const size = parseInt(
      header.toString('ascii', 124, 136).replace(/\0.*$/s, '').trim() || '0',
      8,
    );
    const type = header[156] === 0x35 ? 'directory' : 'file';
    const data = tar.subarray(offset + 512, offset + 512 + size);
    entries.push({ name, data: Buffer.from(data), type });
    offset += 512 + size + tarPadding(size).length;
  }
  return entries;
}

/** A tar in memory of entries. */
export function buildTar(entries: MemoryEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    parts.push(
      tarHeader({ name: e.name, size: e.declaredSize ?? e.data.length, type }),
      e.data,
      tarPadding(e.data.length),
    );
  }
  parts.push(tarEnd());
  return Buffer.concat(parts);
}

export type { KeyObject };
