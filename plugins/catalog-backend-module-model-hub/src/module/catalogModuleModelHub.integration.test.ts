import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import { catalogModuleModelHub } from './catalogModuleModelHub';

// Starts a real catalog (in-memory SQLite, mock auth that lets the request in
// as a user, permissions that allow everything) with the module installed,
// and validates entities through its HTTP API: POST /validate-entity runs
// the entity through every processor's validateEntityKind, as ingestion does.

jest.setTimeout(60_000);

const location = 'url:http://example.com/catalog-info.yaml';

function model(spec: Record<string, unknown>): Entity {
  return {
    apiVersion: 'model-hub.dev/v1alpha1',
    kind: 'Model',
    metadata: { name: 'support-bot' },
    spec: {
      type: 'llm',
      lifecycle: 'experimental',
      owner: 'group:default/ml-team',
      ...spec,
    },
  };
}

// supertest is not a dependency of this package; Node's fetch against the
// test server does the same job.
async function startCatalog(withModule: boolean) {
  const { server } = await startTestBackend({
    features: [
      // A static import; jest here cannot run `import()` of a package.
      catalogPlugin,
      ...(withModule ? [catalogModuleModelHub] : []),
      mockServices.rootConfig.factory({ data: {} }),
    ],
  });
  const { port } = server.address() as { port: number };
  return async (entity: unknown) => {
    const res = await fetch(
      `http://localhost:${port}/api/catalog/validate-entity`,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ entity, location }),
      },
    );
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}

describe('catalogModuleModelHub in a real catalog', () => {
  let validate: Awaited<ReturnType<typeof startCatalog>>;

  beforeAll(async () => {
    validate = await startCatalog(true);
  });

  it('accepts a valid Model', async () => {
    await expect(
      validate(
        model({
          system: 'assistant-platform',
          baseModels: ['llama-3-8b'],
          datasets: ['resource:default/tickets'],
          source: { huggingface: { repo: 'org/support-bot' } },
        }),
      ),
    ).resolves.toEqual({ status: 200, body: undefined });
  });

  it('answers 400 naming spec.owner for a Model without an owner', async () => {
    const entity = model({});
    delete (entity.spec as Record<string, unknown>).owner;

    await expect(validate(entity)).resolves.toEqual({
      status: 400,
      body: {
        errors: [
          {
            name: 'InputError',
            message:
              'Processor ModelEntityProcessor threw an error while validating the entity model:default/support-bot; caused by TypeError: Invalid Model entity "support-bot": spec.owner is required',
            cause: {
              name: 'TypeError',
              message:
                'Invalid Model entity "support-bot": spec.owner is required',
            },
          },
        ],
      },
    });
  });

  it.each([
    [
      'an unknown type',
      { type: 'transformer' },
      'spec.type must be equal to one of the allowed values (llm, embedding, vision, audio, diffusion, tabular, other)',
    ],
    [
      'a malformed base model reference',
      { baseModels: ['a:b:c/d/e'] },
      'spec.baseModels[0] "a:b:c/d/e" is not a valid entity reference: invalid namespace "b:c", name "d/e"',
    ],
    [
      'a base model reference without a name',
      { baseModels: ['llama-3-8b', 'model:'] },
      'spec.baseModels[1] "model:" is not a valid entity reference',
    ],
    [
      'a Hugging Face repository without an org',
      { source: { huggingface: { repo: 'gpt2' } } },
      'spec.source.huggingface.repo must match pattern',
    ],
  ])('answers 400 for %s, naming the field', async (_what, spec, problem) => {
    const { status, body } = await validate(model(spec));

    expect(status).toBe(400);
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0].name).toBe('InputError');
    expect(body.errors[0].message).toContain(
      'Processor ModelEntityProcessor threw an error while validating the entity model:default/support-bot',
    );
    expect(body.errors[0].message).toContain(problem);
    expect(body.errors[0].cause).toEqual({
      name: 'TypeError',
      message: expect.stringContaining(
        `Invalid Model entity "support-bot": ${problem}`,
      ),
    });
  });

  it('does not claim Models of another apiVersion', async () => {
    const { status, body } = await validate({
      ...model({}),
      apiVersion: 'model-hub.dev/v2',
    });

    expect(status).toBe(400);
    expect(body.errors[0].message).toMatch(
      /No processor recognized the entity model:default\/support-bot as valid/,
    );
  });

  it('is what makes the catalog accept Models', async () => {
    const validateWithoutModule = await startCatalog(false);

    const { status, body } = await validateWithoutModule(model({}));

    expect(status).toBe(400);
    expect(body.errors[0].message).toMatch(
      /No processor recognized the entity/,
    );
  });
});
