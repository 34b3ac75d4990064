import fs from 'fs';
import path from 'path';
import { MODEL_FORMATS, MODEL_TYPES } from '../types';
import {
  FILE_KINDS,
  HubModel,
  HubVersion,
  JOB_STATES,
  VERSION_STATES,
} from './core';
import { HubFile, HubFileTreeNode } from './files';
import { HfRepo } from './huggingface';
import { HubJob } from './jobs';
import {
  CreateModelRequest,
  CreateVersionRequest,
  HubActiveVersion,
  HubModelSync,
  UpdateModelRequest,
} from './models';
import { HubSource } from './sources';

// js-yaml ships no type declarations (and @types/js-yaml is not installed),
// so it is loaded untyped, as in validation.test.ts.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { load }: { load(text: string): unknown } = require('js-yaml');

type Schema = {
  enum?: string[];
  properties?: Record<string, unknown>;
};

const openapi = load(
  fs.readFileSync(
    path.resolve(
      __dirname,
      '../../../model-hub-backend/src/schema/openapi.yaml',
    ),
    'utf8',
  ),
) as { components: { schemas: Record<string, Schema> } };
const schemas = openapi.components.schemas;

/**
 * The keys of a shape, each listed once: the compiler fails when a key of
 * the type is missing from the list or the list names a key the type lacks.
 */
function keysOf<T>(keys: Record<keyof T, true>): string[] {
  return Object.keys(keys).sort();
}

describe('the API shapes match openapi.yaml', () => {
  it.each([
    ['VersionState', VERSION_STATES],
    ['JobState', JOB_STATES],
    ['FileKind', FILE_KINDS],
    ['ModelType', MODEL_TYPES],
    ['ModelFormat', MODEL_FORMATS],
  ])('enum %s', (name, values) => {
    expect([...values].sort()).toEqual([...schemas[name].enum!].sort());
  });

  // [schema, the keys of the -common shape, keys the shape has beyond the
  // schema (documented in the shape)]
  it.each<[string, string[], string[]]>([
    [
      'Model',
      keysOf<HubModel>({
        id: true,
        entityRef: true,
        namespace: true,
        name: true,
        title: true,
        description: true,
        type: true,
        task: true,
        format: true,
        license: true,
        lifecycle: true,
        owner: true,
        sourceType: true,
        source: true,
        tags: true,
        system: true,
        origin: true,
        orphanedAt: true,
        createdBy: true,
        createdAt: true,
        updatedAt: true,
      }),
      [],
    ],
    [
      'Version',
      keysOf<HubVersion>({
        id: true,
        modelId: true,
        label: true,
        state: true,
        sourceType: true,
        source: true,
        resolvedCommit: true,
        manifestDigest: true,
        notes: true,
        createdBy: true,
        createdAt: true,
        updatedAt: true,
        revision: true,
        contentDigest: true,
        approvedDigest: true,
        fileCount: true,
        totalSize: true,
      }),
      [],
    ],
    [
      'ActiveVersion',
      keysOf<HubActiveVersion>({
        versionId: true,
        label: true,
        state: true,
        promotedBy: true,
        promotedAt: true,
      }),
      [],
    ],
    [
      'File',
      keysOf<HubFile>({
        path: true,
        size: true,
        sha256: true,
        kind: true,
        createdBy: true,
        createdAt: true,
      }),
      [],
    ],
    [
      'FileTreeNode',
      keysOf<HubFileTreeNode>({
        type: true,
        name: true,
        path: true,
        size: true,
        sha256: true,
        kind: true,
        children: true,
      }),
      [],
    ],
    [
      'HuggingFaceRepo',
      keysOf<HfRepo>({
        id: true,
        modelId: true,
        modelRef: true,
        repoId: true,
        revision: true,
        syncState: true,
        lastSyncedCommit: true,
        lastSyncedAt: true,
        upstreamCommit: true,
        upstreamCheckedAt: true,
        drift: true,
        gated: true,
        lastError: true,
        lastErrorAt: true,
        driftVersion: true,
        cardData: true,
        config: true,
        source: true,
        sourceProblem: true,
        createdBy: true,
        createdAt: true,
        updatedAt: true,
        files: true,
      }),
      // the backend's HfRepo rows carry them; openapi.yaml does not list them
      ['createdAt', 'createdBy', 'driftVersion', 'files', 'updatedAt'],
    ],
    [
      'ModelSource',
      keysOf<HubSource>({
        name: true,
        kind: true,
        origin: true,
        default: true,
        endpoint: true,
        root: true,
        namespace: true,
        include: true,
        exclude: true,
        allowedOrganizations: true,
        schedule: true,
        hasToken: true,
        tokenRef: true,
        status: true,
        problem: true,
        references: true,
        createdBy: true,
        createdAt: true,
        configured: true,
      }),
      // GET /sources/of-model/... only
      ['configured'],
    ],
    [
      'ModelSync',
      keysOf<HubModelSync>({
        repoId: true,
        revision: true,
        syncState: true,
        lastSyncedCommit: true,
        lastSyncedAt: true,
        upstreamCommit: true,
        upstreamCheckedAt: true,
        drift: true,
        lastError: true,
        lastErrorAt: true,
        onDrift: true,
        driftVersion: true,
      }),
      [],
    ],
    [
      'Job',
      keysOf<HubJob>({
        id: true,
        type: true,
        state: true,
        modelRef: true,
        params: true,
        progress: true,
        attempts: true,
        maxAttempts: true,
        leasedBy: true,
        leaseExpiresAt: true,
        error: true,
        createdBy: true,
        createdAt: true,
        updatedAt: true,
        startedAt: true,
        finishedAt: true,
      }),
      [],
    ],
    [
      'CreateModel',
      keysOf<CreateModelRequest>({
        name: true,
        namespace: true,
        title: true,
        description: true,
        type: true,
        task: true,
        format: true,
        license: true,
        lifecycle: true,
        owner: true,
        tags: true,
        source: true,
      }),
      [],
    ],
    [
      'PatchModel',
      keysOf<UpdateModelRequest>({
        title: true,
        description: true,
        type: true,
        task: true,
        format: true,
        license: true,
        lifecycle: true,
        owner: true,
        system: true,
        tags: true,
        expectedUpdatedAt: true,
      }),
      [],
    ],
    [
      'CreateVersion',
      keysOf<CreateVersionRequest>({
        label: true,
        notes: true,
        source: true,
        resolvedCommit: true,
        manifestDigest: true,
      }),
      [],
    ],
  ])('schema %s', (name, keys, extra) => {
    const documented = Object.keys(schemas[name].properties ?? {}).sort();
    expect(keys.filter(k => !extra.includes(k))).toEqual(documented);
  });
});
