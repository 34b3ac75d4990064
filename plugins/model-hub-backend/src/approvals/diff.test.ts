import { HubFile, HubVersion } from '../database/types';
import { diffVersions, parametersFromChecks } from './diff';

const version = (label: string, source?: unknown): HubVersion => ({
  id: label,
  modelId: 'm',
  label,
  state: 'approved',
  sourceType: 'upload',
  source,
  createdBy: 'user:default/a',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  revision: 0,
  fileCount: 0,
  totalSize: 0,
});

const file = (path: string, sha256: string, size = 1): HubFile => ({
  path,
  sha256,
  size,
  kind: 'other',
  createdBy: 'user:default/a',
  createdAt: '2026-01-01T00:00:00.000Z',
});

describe('diffVersions', () => {
  it('compares files by path and SHA-256, parameters and license', () => {
    const diff = diffVersions({
      base: {
        version: version('v1', { parameters: 7e9, license: 'llama2' }),
        files: [file('a', '1'), file('b', '2', 5), file('c', '3')],
      },
      target: {
        version: version('v2', { parameterCount: 8e9 }),
        files: [file('a', '1'), file('b', '4', 6), file('d', '5')],
      },
      modelLicense: 'apache-2.0',
    });
    expect(diff).toEqual({
      base: { label: 'v1', state: 'approved' },
      files: {
        added: [{ path: 'd', sha256: '5', size: 1 }],
        removed: [{ path: 'c', sha256: '3', size: 1 }],
        changed: [
          {
            path: 'b',
            from: { sha256: '2', size: 5 },
            to: { sha256: '4', size: 6 },
          },
        ],
        unchanged: 1,
      },
      totalSize: { from: 7, to: 8, changed: true },
      parameters: { from: 7e9, to: 8e9, changed: true },
      license: { from: 'llama2', to: 'apache-2.0', changed: true },
    });
  });

  it('treats every file as added without a base', () => {
    const diff = diffVersions({
      target: { version: version('v1'), files: [file('a', '1')] },
    });
    expect(diff.base).toBeUndefined();
    expect(diff.files.added).toHaveLength(1);
    expect(diff.totalSize).toEqual({ from: undefined, to: 1, changed: true });
    expect(diff.license.changed).toBe(false);
  });

  it('takes the parameter count from format inspections', () => {
    const parameters = parametersFromChecks([
      { name: 'inspect:format:safetensors:a', details: { parameterCount: 10 } },
      { name: 'inspect:format:gguf:b', details: { parameterCount: '5' } },
      { name: 'inspect:safety:pickle:c', details: { parameterCount: 99 } },
      { name: 'model-hub.format', details: {} },
    ]);
    expect(parameters).toBe(15);
    expect(parametersFromChecks([])).toBeUndefined();
    const diff = diffVersions({
      base: { version: version('v1'), files: [], parameters: 15 },
      target: { version: version('v2'), files: [], parameters: 20 },
    });
    expect(diff.parameters).toEqual({ from: 15, to: 20, changed: true });
  });
});
