import {
  gitBlobSha1,
  gitTreeSha1,
  isLfsPath,
  lfsPointer,
  syntheticCommitId,
} from './gitObjects';
import { generateToken, hashToken, looksLikePersonalToken } from './tokens';
import { pickActiveVersion } from './activeVersion';
import { HubVersion } from '../database/types';

describe('git objects', () => {
  it('hashes blobs and trees as git does', () => {
    // values from `git ls-files -s` and `git write-tree`
    expect(gitBlobSha1(Buffer.from('hello\n'))).toBe(
      'ce013625030ba8dba906f756967f9e9ca394464a',
    );
    expect(gitBlobSha1(Buffer.alloc(0))).toBe(
      'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391',
    );
    const d = gitTreeSha1([
      { name: 'b.bin', type: 'file', oid: gitBlobSha1(Buffer.from('x')) },
    ]);
    expect(d).toBe('9711fc2a73618664c1275e405b8b21ae89589382');
    expect(
      gitTreeSha1([
        { name: 'e', type: 'file', oid: gitBlobSha1(Buffer.alloc(0)) },
        { name: 'd', type: 'directory', oid: d },
        {
          name: 'a.txt',
          type: 'file',
          oid: gitBlobSha1(Buffer.from('hello\n')),
        },
      ]),
    ).toBe('0781e307152b6f5e8b8763b198cac78fe3124ee7');
    expect(gitTreeSha1([])).toBe('4b825dc642cb6eb9a060e54bf8d69288fbee4904');
  });

  it('writes LFS pointers byte for byte', () => {
    expect(lfsPointer('a'.repeat(64), 12).toString()).toBe(
      `version https://git-lfs.github.com/spec/v1\noid sha256:${'a'.repeat(
        64,
      )}\nsize 12\n`,
    );
  });

  it('puts weights and large files in LFS', () => {
    expect(isLfsPath('model.safetensors', 10)).toBe(true);
    expect(isLfsPath('onnx/model.onnx', 10)).toBe(true);
    expect(isLfsPath('tokenizer.model', 10)).toBe(true);
    expect(isLfsPath('config.json', 10)).toBe(false);
    expect(isLfsPath('tokenizer.json', 20_000_000)).toBe(true);
  });

  it('derives stable 40-hex commit ids', () => {
    const a = syntheticCommitId('model:a/b', 'sha256:1');
    expect(a).toMatch(/^[0-9a-f]{40}$/);
    expect(syntheticCommitId('model:a/b', 'sha256:1')).toBe(a);
    expect(syntheticCommitId('model:a/c', 'sha256:1')).not.toBe(a);
  });
});

describe('personal tokens', () => {
  it('look like Hugging Face tokens and hash to SHA-256', () => {
    const token = generateToken();
    expect(token).toMatch(/^hf_[A-Za-z0-9]{34}$/);
    expect(looksLikePersonalToken(token)).toBe(true);
    expect(looksLikePersonalToken('hf_short')).toBe(false);
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(generateToken()).not.toBe(token);
  });
});

describe('pickActiveVersion', () => {
  // approved versions whose files are those they were approved with
  const v = (id: string, state: HubVersion['state'], updatedAt: string) =>
    ({
      id,
      state,
      updatedAt,
      createdAt: updatedAt,
      contentDigest: `sha256:${id}`,
      approvedDigest: state === 'approved' ? `sha256:${id}` : undefined,
    } as HubVersion);

  it('takes the promoted approved version, else the latest approved', () => {
    const versions = [
      v('1', 'approved', '2026-01-01T00:00:00.000Z'),
      v('2', 'approved', '2026-01-03T00:00:00.000Z'),
      v('3', 'in_review', '2026-01-04T00:00:00.000Z'),
      v('4', 'deprecated', '2026-01-05T00:00:00.000Z'),
    ];
    expect(pickActiveVersion(versions)?.id).toBe('2');
    expect(pickActiveVersion(versions, '1')?.id).toBe('1');
    expect(pickActiveVersion(versions, '4')?.id).toBe('2');
    expect(pickActiveVersion([versions[2]])).toBeUndefined();
    // an approved version whose files changed since is not served
    expect(
      pickActiveVersion([{ ...versions[1], contentDigest: 'sha256:other' }]),
    ).toBeUndefined();
  });
});
