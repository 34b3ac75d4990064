import { Entity } from '@backstage/catalog-model';
import { LocationSpec } from '@backstage/plugin-catalog-common';
import { processingResult } from '@backstage/plugin-catalog-node';
import { ModelEntityProcessor } from './ModelEntityProcessor';

const location: LocationSpec = {
  type: 'url',
  target: 'http://example.com/catalog-info.yaml',
};

function model(spec: Record<string, unknown>, namespace?: string): Entity {
  return {
    apiVersion: 'model-hub.dev/v1alpha1',
    kind: 'Model',
    metadata: { name: 'support-bot', ...(namespace ? { namespace } : {}) },
    spec: { type: 'llm', lifecycle: 'experimental', owner: 'ml-team', ...spec },
  };
}

const component: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'svc' },
  spec: {
    type: 'service',
    lifecycle: 'production',
    owner: 'team-a',
    system: 'shop',
    dependsOn: ['resource:db'],
  },
};

describe('ModelEntityProcessor', () => {
  const processor = new ModelEntityProcessor();

  it('has a stable name', () => {
    expect(processor.getProcessorName()).toBe('ModelEntityProcessor');
  });

  describe('validateEntityKind', () => {
    it('accepts valid Models', async () => {
      await expect(processor.validateEntityKind(model({}))).resolves.toBe(true);
    });

    it('leaves other kinds and apiVersions to other processors', async () => {
      await expect(processor.validateEntityKind(component)).resolves.toBe(
        false,
      );
      await expect(
        processor.validateEntityKind({
          ...model({}),
          apiVersion: 'backstage.io/v1alpha1',
        }),
      ).resolves.toBe(false);
    });

    it('throws for invalid Models, naming the failing field', async () => {
      const noOwner = model({});
      delete (noOwner.spec as Record<string, unknown>).owner;
      await expect(processor.validateEntityKind(noOwner)).rejects.toThrow(
        'Invalid Model entity "support-bot": spec.owner is required',
      );
      await expect(
        processor.validateEntityKind(model({ type: 'transformer' })),
      ).rejects.toThrow(
        /spec\.type must be equal to one of the allowed values/,
      );
      await expect(
        processor.validateEntityKind(model({ baseModels: ['model:'] })),
      ).rejects.toThrow(TypeError);
      await expect(
        processor.validateEntityKind(model({ baseModels: ['model:'] })),
      ).rejects.toThrow(/spec\.baseModels\[0\] "model:" is not a valid/);
    });
  });

  describe('postProcessEntity', () => {
    it('emits every relation of the spec in both directions', async () => {
      const entity = model(
        {
          owner: 'ml-team',
          system: 'system:platform/assistant',
          datasets: ['tickets', 'resource:default/ultrachat'],
          baseModels: [
            'llama-3-8b',
            'shared/mistral-7b',
            'Model:default/phi-3',
          ],
        },
        'research',
      );
      const emit = jest.fn();

      await expect(
        processor.postProcessEntity(entity, location, emit),
      ).resolves.toBe(entity);

      const self = {
        kind: 'Model',
        namespace: 'research',
        name: 'support-bot',
      };
      const pair = (
        target: { kind: string; namespace: string; name: string },
        forward: string,
        reverse: string,
      ) => [
        [processingResult.relation({ source: self, type: forward, target })],
        [
          processingResult.relation({
            source: target,
            type: reverse,
            target: self,
          }),
        ],
      ];
      expect(emit.mock.calls).toEqual([
        ...pair(
          { kind: 'Group', namespace: 'research', name: 'ml-team' },
          'ownedBy',
          'ownerOf',
        ),
        ...pair(
          { kind: 'system', namespace: 'platform', name: 'assistant' },
          'partOf',
          'hasPart',
        ),
        ...pair(
          { kind: 'Resource', namespace: 'research', name: 'tickets' },
          'dependsOn',
          'dependencyOf',
        ),
        ...pair(
          { kind: 'resource', namespace: 'default', name: 'ultrachat' },
          'dependsOn',
          'dependencyOf',
        ),
        ...pair(
          { kind: 'Model', namespace: 'research', name: 'llama-3-8b' },
          'derivedFrom',
          'derivationOf',
        ),
        ...pair(
          { kind: 'Model', namespace: 'shared', name: 'mistral-7b' },
          'derivedFrom',
          'derivationOf',
        ),
        ...pair(
          { kind: 'Model', namespace: 'default', name: 'phi-3' },
          'derivedFrom',
          'derivationOf',
        ),
      ]);
    });

    it('emits relation results the catalog understands', async () => {
      const emit = jest.fn();
      await processor.postProcessEntity(
        model({ owner: 'user:alice' }),
        location,
        emit,
      );
      expect(emit.mock.calls).toEqual([
        [
          {
            type: 'relation',
            relation: {
              source: {
                kind: 'Model',
                namespace: 'default',
                name: 'support-bot',
              },
              type: 'ownedBy',
              target: { kind: 'user', namespace: 'default', name: 'alice' },
            },
          },
        ],
        [
          {
            type: 'relation',
            relation: {
              source: { kind: 'user', namespace: 'default', name: 'alice' },
              type: 'ownerOf',
              target: {
                kind: 'Model',
                namespace: 'default',
                name: 'support-bot',
              },
            },
          },
        ],
      ]);
    });

    it('emits only the owner relations for a minimal Model', async () => {
      const emit = jest.fn();
      await processor.postProcessEntity(
        model({ baseModels: [], datasets: [] }),
        location,
        emit,
      );
      expect(emit.mock.calls.map(([r]) => r.relation.type)).toEqual([
        'ownedBy',
        'ownerOf',
      ]);
    });

    it('leaves entities that are not Models untouched', async () => {
      const emit = jest.fn();
      const before = JSON.parse(JSON.stringify(component));
      await expect(
        processor.postProcessEntity(component, location, emit),
      ).resolves.toBe(component);
      await processor.postProcessEntity(
        { ...model({ baseModels: ['base'] }), apiVersion: 'example.com/v1' },
        location,
        emit,
      );
      expect(emit).not.toHaveBeenCalled();
      expect(component).toEqual(before);
    });
  });
});
