import {
  DEFAULT_NAMESPACE,
  Entity,
  entityKindSchemaValidator,
  makeValidator,
  parseEntityRef,
} from '@backstage/catalog-model';
import schema from './schema/Model.v1alpha1.schema.json';
import { MODEL_API_VERSION, MODEL_KIND, ModelEntityV1alpha1 } from './types';

/**
 * The JSON schema of the `Model` kind, as used by the catalog.
 *
 * @public
 */
export const modelEntityV1alpha1Schema: object = schema;

/**
 * Tells whether an entity is a Model entity (by apiVersion and kind only;
 * it does not validate the entity).
 *
 * @public
 */
export function isModelEntity(entity: Entity): entity is ModelEntityV1alpha1 {
  return (
    entity?.apiVersion === MODEL_API_VERSION && entity?.kind === MODEL_KIND
  );
}

/**
 * The default kinds of the entity references in a Model's spec.
 *
 * @public
 */
export const MODEL_REF_DEFAULT_KINDS = {
  owner: 'Group',
  system: 'System',
  baseModels: 'Model',
  datasets: 'Resource',
} as const;

type JsonSchema = {
  type?: string;
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  [key: string]: unknown;
};

// The parts of the Model schema: the whole kind (the source of truth for
// validity), the envelope with an opaque spec, and the spec itself, whose
// properties are checked one by one so that every failing field is reported
// (the catalog's validator only reports the first error it finds).
const modelSchema = schema as unknown as {
  allOf: [JsonSchema, JsonSchema & { properties: { spec: JsonSchema } }];
};
const specSchema = modelSchema.allOf[1].properties.spec;
const specProperties = specSchema.properties ?? {};

const validateWholeModel = entityKindSchemaValidator<ModelEntityV1alpha1>(
  schema as any,
);
const validateEnvelope = entityKindSchemaValidator({
  ...schema,
  $id: 'ModelV1alpha1Envelope',
  allOf: [
    modelSchema.allOf[0],
    {
      ...modelSchema.allOf[1],
      properties: {
        ...modelSchema.allOf[1].properties,
        spec: { type: 'object' },
      },
    },
  ],
} as any);

const valueValidators = new Map<JsonSchema, (value: unknown) => unknown>();

// Validates a value against a sub-schema; returns the catalog validator's
// error message (e.g. `/0 must be string - type: string`), or undefined.
function schemaErrorOf(value: unknown, subSchema: JsonSchema) {
  let validate = valueValidators.get(subSchema);
  if (!validate) {
    validate = entityKindSchemaValidator(subSchema as any);
    valueValidators.set(subSchema, validate);
  }
  try {
    validate(value);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

// "/spec/baseModels/0" becomes "spec.baseModels[0]"; "" becomes "entity".
function pointerToPath(pointer: string): string {
  if (!pointer) {
    return 'entity';
  }
  return pointer
    .replace(/^\//, '')
    .split('/')
    .map(part => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part, i) => {
      if (/^\d+$/.test(part)) {
        return `[${part}]`;
      }
      return i ? `.${part}` : part;
    })
    .join('');
}

// "/type must be equal to one of the allowed values - allowedValues: a,b"
// under the prefix "/spec" becomes
// "spec.type must be equal to one of the allowed values (a, b)".
function humanizeSchemaError(message: string, prefix = ''): string {
  const match = /^(\S+) (.*?)(?: - (.*))?$/.exec(message);
  if (!match) {
    return message;
  }
  const [, rawPointer, text, params] = match;
  const pointer = prefix + (rawPointer === '<root>' ? '' : rawPointer);
  const path = pointerToPath(pointer);
  const child = (name: string) =>
    path === 'entity' ? name : pointerToPath(`${pointer}/${name}`);
  if (params) {
    const allowed = /allowedValues: (.*)$/.exec(params);
    const missing = /missingProperty: (.*)$/.exec(params);
    const additional = /additionalProperty: (.*)$/.exec(params);
    if (missing) {
      return `${child(missing[1])} is required`;
    } else if (additional) {
      return `${child(additional[1])} is not a known field`;
    } else if (allowed) {
      return `${path} ${text} (${allowed[1].split(',').join(', ')})`;
    }
  }
  return `${path} ${text}`;
}

function describeBranch(branch: JsonSchema): string {
  if (branch.enum) {
    return branch.enum.map(v => JSON.stringify(v)).join(' or ');
  }
  if (branch.type === 'object' && branch.required?.length) {
    return `an object with ${branch.required.join(' and ')}`;
  }
  return `a value of type ${branch.type}`;
}

// A oneOf (spec.source) is checked against the branch that the value's shape
// selects, so that the message names the nested field that is wrong instead
// of the first branch's complaint ("must be string").
function checkOneOf(value: unknown, subSchema: JsonSchema, pointer: string) {
  const branches = subSchema.oneOf ?? [];
  const candidates = branches.filter(branch => {
    if (branch.type === 'object') {
      return (
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        (branch.required ?? []).every(key => key in value)
      );
    }
    return branch.type === typeof value;
  });
  if (candidates.length === 1) {
    const error = schemaErrorOf(value, candidates[0]);
    return error ? [humanizeSchemaError(error, pointer)] : [];
  }
  return [
    `${pointerToPath(pointer)} must be exactly one of: ${branches
      .map(describeBranch)
      .join('; ')}`,
  ];
}

function checkSpecField(name: string, value: unknown): string[] {
  const fieldSchema = specProperties[name];
  const pointer = `/spec/${name}`;
  if (fieldSchema.oneOf) {
    return schemaErrorOf(value, fieldSchema)
      ? checkOneOf(value, fieldSchema, pointer)
      : [];
  }
  if (
    fieldSchema.type === 'array' &&
    fieldSchema.items &&
    Array.isArray(value)
  ) {
    const itemSchema = fieldSchema.items;
    return value.flatMap((item, i) => {
      const error = schemaErrorOf(item, itemSchema);
      return error ? [humanizeSchemaError(error, `${pointer}/${i}`)] : [];
    });
  }
  const error = schemaErrorOf(value, fieldSchema);
  return error ? [humanizeSchemaError(error, pointer)] : [];
}

function findSchemaProblems(entity: Entity): string[] {
  try {
    validateWholeModel(entity);
    return [];
  } catch (wholeError) {
    const problems: string[] = [];
    try {
      validateEnvelope(entity);
    } catch (e) {
      problems.push(humanizeSchemaError((e as Error).message));
    }
    const spec = entity.spec;
    if (typeof spec === 'object' && spec !== null && !Array.isArray(spec)) {
      for (const name of specSchema.required ?? []) {
        if (!(name in spec)) {
          problems.push(`spec.${name} is required`);
        }
      }
      for (const [name, value] of Object.entries(spec)) {
        if (!(name in specProperties)) {
          problems.push(`spec.${name} is not a known field`);
        } else {
          problems.push(...checkSpecField(name, value));
        }
      }
    }
    // The whole-kind validator is the source of truth; should the piecewise
    // checks not find what it found, report its own message.
    return problems.length
      ? problems
      : [humanizeSchemaError((wholeError as Error).message)];
  }
}

const validators = makeValidator();

function checkRef(
  value: unknown,
  field: string,
  defaultKind: string,
): string | undefined {
  if (typeof value !== 'string' || value === '') {
    return undefined; // reported by the schema checks
  }
  let ref;
  try {
    // Bare references take the namespace of the entity; that namespace is
    // checked by the catalog's own policies, so it is not this field's fault.
    ref = parseEntityRef(value, {
      defaultKind,
      defaultNamespace: DEFAULT_NAMESPACE,
    });
  } catch (e) {
    return `${field} "${value}" is not a valid entity reference: ${
      (e as Error).message
    }`;
  }
  // The same rules the catalog applies to the kind, namespace and name of
  // the entities themselves, so that a reference can match an entity.
  const invalid = [
    !validators.isValidKind(ref.kind) && `kind "${ref.kind}"`,
    !validators.isValidNamespace(ref.namespace.toLocaleLowerCase('en-US')) &&
      `namespace "${ref.namespace}"`,
    !validators.isValidEntityName(ref.name) && `name "${ref.name}"`,
  ].filter(Boolean);
  if (invalid.length) {
    return `${field} "${value}" is not a valid entity reference: invalid ${invalid.join(
      ', ',
    )}`;
  }
  return undefined;
}

/**
 * Finds every problem of a Model entity: schema violations and malformed
 * entity references. Each message starts with the field it is about, e.g.
 * `spec.type must be equal to one of the allowed values (llm, …)`.
 *
 * Returns an empty array for a valid Model. Entities of other kinds are not
 * checked and give an empty array too; use {@link isModelEntity} first.
 *
 * @public
 */
export function findModelEntityProblems(entity: Entity): string[] {
  if (!isModelEntity(entity)) {
    return [];
  }
  const problems: Array<string | undefined> = findSchemaProblems(entity);
  const spec = (entity.spec ?? {}) as Partial<Record<string, unknown>>;
  for (const field of ['owner', 'system'] as const) {
    problems.push(
      checkRef(spec[field], `spec.${field}`, MODEL_REF_DEFAULT_KINDS[field]),
    );
  }
  for (const field of ['baseModels', 'datasets'] as const) {
    const refs = spec[field];
    if (Array.isArray(refs)) {
      refs.forEach((ref, i) =>
        problems.push(
          checkRef(ref, `spec.${field}[${i}]`, MODEL_REF_DEFAULT_KINDS[field]),
        ),
      );
    }
  }
  return problems.filter((p): p is string => Boolean(p));
}

/**
 * Validates a Model entity.
 *
 * Returns `false` when the entity is not a Model (another kind or
 * apiVersion), `true` when it is a valid Model, and throws a `TypeError`
 * naming the failing fields when it is an invalid Model. These are the
 * semantics of a catalog processor's `validateEntityKind`.
 *
 * @public
 */
export function validateModelEntity(entity: Entity): boolean {
  if (!isModelEntity(entity)) {
    return false;
  }
  const problems = findModelEntityProblems(entity);
  if (problems.length) {
    throw new TypeError(
      `Invalid Model entity "${entity.metadata?.name}": ${problems.join('; ')}`,
    );
  }
  return true;
}
