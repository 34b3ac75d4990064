import { resolveEntityRefs } from './resolveEntityRefs';

describe('resolveEntityRefs', () => {
  it('applies the default kind and the namespace of the holder', () => {
    expect(
      resolveEntityRefs(['llama-3-8b', 'model:shared/bert', 'Resource:x/y'], {
        defaultKind: 'Model',
        defaultNamespace: 'ml',
      }),
    ).toEqual({
      refs: [
        { kind: 'Model', namespace: 'ml', name: 'llama-3-8b' },
        { kind: 'model', namespace: 'shared', name: 'bert' },
        { kind: 'Resource', namespace: 'x', name: 'y' },
      ],
      invalid: [],
    });
  });

  it('defaults the namespace to default and accepts a single string', () => {
    expect(resolveEntityRefs('ml-engineers', { defaultKind: 'Group' })).toEqual(
      {
        refs: [{ kind: 'Group', namespace: 'default', name: 'ml-engineers' }],
        invalid: [],
      },
    );
  });

  it('keeps references that do not parse apart', () => {
    expect(resolveEntityRefs(['x:/y', ''], { defaultKind: 'Model' })).toEqual({
      refs: [],
      invalid: ['x:/y'],
    });
    expect(resolveEntityRefs(undefined, { defaultKind: 'Model' })).toEqual({
      refs: [],
      invalid: [],
    });
  });
});
