import { modelHubFixtures } from '../../testUtils';
import { buildFileTree, withRemoteFiles } from './remoteFiles';

const commit = '0123456789abcdef0123456789abcdef01234567';

describe('remote files of synced versions', () => {
  it('builds a folder tree', () => {
    const tree = buildFileTree([
      { path: 'a/b/c.bin', size: 1, sha256: 'x', kind: 'weights' },
      { path: 'a/d.json', size: 2, sha256: 'y', kind: 'config' },
      { path: 'README.md', size: 3, sha256: 'z', kind: 'docs' },
    ]);
    expect(tree.children!.map(c => c.path)).toEqual(['a', 'README.md']);
    const a = tree.children![0];
    expect(a.children!.map(c => `${c.type}:${c.path}`)).toEqual([
      'directory:a/b',
      'file:a/d.json',
    ]);
    expect(a.children![0].children![0]).toMatchObject({
      type: 'file',
      name: 'c.bin',
      size: 1,
    });
  });

  it('adds the files of the synced commit that the hub has not stored', () => {
    const list = {
      files: [
        { path: 'config.json', size: 10, sha256: 'c', kind: 'config' as const },
      ],
      tree: buildFileTree([
        { path: 'config.json', size: 10, sha256: 'c', kind: 'config' },
      ]),
    };
    const repo = modelHubFixtures.hfRepo({
      lastSyncedCommit: commit,
      files: [
        { path: 'config.json', size: 10, oid: 'o1' },
        {
          path: 'weights/model.safetensors',
          size: 4096,
          oid: 'o2',
          lfsSha256: 'f'.repeat(64),
        },
      ],
    });
    const version = modelHubFixtures.version({ resolvedCommit: commit });
    const merged = withRemoteFiles(list, version, repo);
    expect(merged.files.map(f => `${f.path}:${f.location ?? 'local'}`)).toEqual(
      ['config.json:local', 'weights/model.safetensors:remote'],
    );
    expect(merged.tree.children!.map(c => c.path)).toEqual([
      'config.json',
      'weights',
    ]);
    // another commit: the listing does not apply
    expect(
      withRemoteFiles(
        list,
        modelHubFixtures.version({ resolvedCommit: 'f'.repeat(40) }),
        repo,
      ),
    ).toBe(list);
  });
});
