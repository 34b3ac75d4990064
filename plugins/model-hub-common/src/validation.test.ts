import fs from 'fs';
import path from 'path';
import type { Entity } from '@backstage/catalog-model';
import {
  findModelEntityProblems,
  isModelEntity,
  modelEntityV1alpha1Schema,
  validateModelEntity,
} from './validation';
import {
  MODEL_API_VERSION,
  MODEL_FORMATS,
  MODEL_KIND,
  MODEL_TYPES,
} from './types';

// js-yaml ships no type declarations (and @types/js-yaml is not installed),
// so it is required with the one signature used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { load }: { load(text: string): unknown } = require('js-yaml');

const fixturesDir = path.join(__dirname, '__fixtures__');

type Fixture = {
  file: string;
  entity: Entity;
  /** The field the error must name, from the fixture's `# expect:` comment. */
  expectedField?: string;
};

function loadFixtures(kind: 'valid' | 'invalid'): Fixture[] {
  const dir = path.join(fixturesDir, kind);
  return fs
    .readdirSync(dir)
    .filter(file => file.endsWith('.yaml'))
    .sort()
    .map(file => {
      const text = fs.readFileSync(path.join(dir, file), 'utf8');
      return {
        file,
        entity: load(text) as Entity,
        expectedField: /^# expect: (\S+)\s*$/m.exec(text)?.[1],
      };
    });
}

const validFixtures = loadFixtures('valid');
const invalidFixtures = loadFixtures('invalid');

function escapeRegExp(text: string) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// The field must start one of the problems, and be followed by a space, so
// that `spec.baseModels` does not pass for `spec.baseModels[0]` or the other
// way round.
function namesField(field: string) {
  return new RegExp(`(^|: |; )${escapeRegExp(field)} `);
}

function model(spec: Record<string, unknown>, metadata = {}): Entity {
  return {
    apiVersion: MODEL_API_VERSION,
    kind: MODEL_KIND,
    metadata: { name: 'test-model', ...metadata },
    spec: { type: 'llm', lifecycle: 'experimental', owner: 'ml', ...spec },
  };
}

describe('the fixture corpus', () => {
  it('is large enough and every invalid fixture names its field', () => {
    expect(validFixtures.length).toBeGreaterThanOrEqual(8);
    expect(invalidFixtures.length).toBeGreaterThanOrEqual(15);
    for (const fixture of invalidFixtures) {
      expect({ file: fixture.file, field: fixture.expectedField }).toEqual({
        file: fixture.file,
        field: expect.any(String),
      });
    }
  });

  it('contains only Model entities', () => {
    for (const { entity } of [...validFixtures, ...invalidFixtures]) {
      expect(isModelEntity(entity)).toBe(true);
    }
  });
});

describe('validateModelEntity', () => {
  it.each(validFixtures.map(f => [f.file, f]))(
    'accepts valid/%s',
    (_file, { entity }) => {
      expect(findModelEntityProblems(entity)).toEqual([]);
      expect(validateModelEntity(entity)).toBe(true);
    },
  );

  it.each(invalidFixtures.map(f => [f.file, f]))(
    'rejects invalid/%s, naming the failing field',
    (_file, { entity, expectedField }) => {
      const field = expectedField!;
      expect(() => validateModelEntity(entity)).toThrow(TypeError);
      expect(() => validateModelEntity(entity)).toThrow(namesField(field));
      expect(() => validateModelEntity(entity)).toThrow(
        `Invalid Model entity "${entity.metadata.name}": `,
      );
      const problems = findModelEntityProblems(entity);
      expect(problems).toHaveLength(1);
      expect(problems[0].startsWith(`${field} `)).toBe(true);
    },
  );

  it('gives false for entities of other kinds and apiVersions', () => {
    const component: Entity = {
      apiVersion: 'backstage.io/v1alpha1',
      kind: 'Component',
      metadata: { name: 'svc' },
      spec: { type: 'service', lifecycle: 'production', owner: 'team' },
    };
    const others: Entity[] = [
      component,
      { ...model({}), apiVersion: 'backstage.io/v1alpha1' },
      { ...model({}), apiVersion: 'model-hub.dev/v1beta1' },
      { ...model({}), kind: 'model' },
      { ...model({}), kind: 'Resource', spec: { type: 'dataset' } },
      // Other kinds are not looked at, however broken they are.
      { ...component, spec: { owner: 'model:' } },
    ];
    for (const entity of others) {
      expect(validateModelEntity(entity)).toBe(false);
      expect(findModelEntityProblems(entity)).toEqual([]);
    }
  });

  it('reports every failing field, not only the first', () => {
    const entity = model({
      type: 'transformer',
      owner: undefined,
      format: 'pickle',
      framework: 'pytorch',
      baseModels: ['good-base', 'model:', 42],
      datasets: ['a:b:c/d/e'],
    });
    delete (entity.spec as Record<string, unknown>).owner;
    expect(findModelEntityProblems(entity)).toEqual([
      'spec.owner is required',
      'spec.type must be equal to one of the allowed values (llm, embedding, vision, audio, diffusion, tabular, other)',
      'spec.format must be equal to one of the allowed values (safetensors, gguf, onnx, pytorch, joblib, other)',
      'spec.framework is not a known field',
      'spec.baseModels[2] must be string',
      'spec.baseModels[1] "model:" is not a valid entity reference: Entity reference "model:" was not on the form [<kind>:][<namespace>/]<name>',
      'spec.datasets[0] "a:b:c/d/e" is not a valid entity reference: invalid namespace "b:c", name "d/e"',
    ]);
    expect(() => validateModelEntity(entity)).toThrow(
      /spec\.owner is required; spec\.type must be .*; spec\.datasets\[0\] /,
    );
  });

  it('explains what is wrong with a source', () => {
    const problemsOf = (source: unknown) =>
      findModelEntityProblems(model({ source }));
    expect(problemsOf({ huggingface: { repo: 'gpt2' }, upload: {} })).toEqual([
      'spec.source must be exactly one of: "upload"; an object with huggingface; an object with upload',
    ]);
    expect(problemsOf({ huggingface: { repo: 'gpt2' } })).toEqual([
      'spec.source.huggingface.repo must match pattern "^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$"',
    ]);
    expect(
      problemsOf({ huggingface: { repo: 'org/name', branch: 'main' } }),
    ).toEqual(['spec.source.huggingface.branch is not a known field']);
    expect(problemsOf('s3')).toEqual([
      'spec.source must be equal to one of the allowed values (upload)',
    ]);
    expect(problemsOf(['upload'])).toEqual([
      'spec.source must be exactly one of: "upload"; an object with huggingface; an object with upload',
    ]);
  });

  it('checks references against the catalog rules for kinds, namespaces and names', () => {
    const problemsOfOwner = (owner: string) =>
      findModelEntityProblems(model({ owner }));
    expect(problemsOfOwner('group:default/ml-platform')).toEqual([]);
    expect(problemsOfOwner('Group:Default/ML_Platform.v2')).toEqual([]);
    expect(problemsOfOwner(`group:${'a'.repeat(63)}`)).toEqual([]);
    expect(problemsOfOwner(`group:${'a'.repeat(64)}`)).toEqual([
      `spec.owner "group:${'a'.repeat(
        64,
      )}" is not a valid entity reference: invalid name "${'a'.repeat(64)}"`,
    ]);
    expect(problemsOfOwner('my-kind:ml')).toEqual([
      'spec.owner "my-kind:ml" is not a valid entity reference: invalid kind "my-kind"',
    ]);
    expect(problemsOfOwner('group:my_ns/ml')).toEqual([
      'spec.owner "group:my_ns/ml" is not a valid entity reference: invalid namespace "my_ns"',
    ]);
  });

  it("does not blame references for the entity's own namespace", () => {
    // Bare references take the entity's namespace; a malformed namespace is
    // a metadata problem, which the catalog's FieldFormatEntityPolicy reports.
    expect(
      findModelEntityProblems(
        model(
          { baseModels: ['base'], datasets: ['corpus'] },
          { namespace: 'My_NS' },
        ),
      ),
    ).toEqual([]);
  });

  it('names metadata and envelope problems', () => {
    const noMetadata = {
      apiVersion: MODEL_API_VERSION,
      kind: MODEL_KIND,
      spec: {},
    };
    expect(() => validateModelEntity(noMetadata as unknown as Entity)).toThrow(
      /: metadata is required/,
    );
  });
});

describe('isModelEntity', () => {
  it('looks at apiVersion and kind only', () => {
    expect(isModelEntity(model({}))).toBe(true);
    expect(isModelEntity({ ...model({}), spec: {} })).toBe(true);
    expect(isModelEntity({ ...model({}), kind: 'Component' })).toBe(false);
    expect(
      isModelEntity({ ...model({}), apiVersion: 'backstage.io/v1alpha1' }),
    ).toBe(false);
  });
});

describe('modelEntityV1alpha1Schema', () => {
  // Keeps the TypeScript types and the JSON schema from drifting apart.
  it('allows exactly the types and formats of the TypeScript types', () => {
    const spec = (modelEntityV1alpha1Schema as any).allOf[1].properties.spec;
    expect(spec.properties.type.enum).toEqual([...MODEL_TYPES]);
    expect(spec.properties.format.enum).toEqual([...MODEL_FORMATS]);
  });

  it.each(MODEL_TYPES.map(type => [type]))('accepts type %s', type => {
    expect(validateModelEntity(model({ type }))).toBe(true);
  });

  it.each(MODEL_FORMATS.map(format => [format]))(
    'accepts format %s',
    format => {
      expect(validateModelEntity(model({ format }))).toBe(true);
    },
  );

  it('accepts the example it carries', () => {
    for (const example of (modelEntityV1alpha1Schema as any).examples) {
      expect(validateModelEntity(example)).toBe(true);
    }
  });
});
