import { resolveSafeChildPath } from '@backstage/backend-plugin-api';
import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import {
  InputError,
  NotAllowedError,
  ResponseError,
  isError,
} from '@backstage/errors';
import {
  MODEL_API_VERSION,
  MODEL_FORMATS,
  MODEL_KIND,
  MODEL_TYPES,
  ModelEntity,
  ModelSource,
  findModelEntityProblems,
} from '@model-hub/backstage-plugin-model-hub-common';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import fs from 'node:fs/promises';
import path from 'node:path';
import yaml from 'yaml';
import { ModelHubClient } from '../lib/ModelHubClient';
import { examples } from './registerModel.examples';

function toInputError(what: string, e: unknown): Error {
  if (e instanceof ResponseError && e.statusCode === 403) {
    return new NotAllowedError(`${what}: ${e.body.error.message}`);
  }
  if (e instanceof ResponseError) {
    return new InputError(`${what}: ${e.body.error.message}`);
  }
  return new InputError(`${what}: ${isError(e) ? e.message : String(e)}`);
}

/**
 * Creates the `model-hub:model:register` action: creates a model and its
 * first draft version in Model Hub (from a Hugging Face repository, or empty
 * for uploads) and writes the Model's `catalog-info.yaml` into the workspace.
 *
 * @public
 */
export function createModelRegisterAction(options: {
  client: ModelHubClient;
  /** The portal frontend's base URL (`app.baseUrl`), for links. */
  appBaseUrl: string;
}) {
  const { client, appBaseUrl } = options;
  return createTemplateAction({
    id: 'model-hub:model:register',
    description:
      'Creates a model and its first version in Model Hub and writes its catalog-info.yaml into the workspace',
    examples,
    supportsDryRun: true,
    schema: {
      input: {
        name: z =>
          z
            .string({ description: 'Entity name of the Model' })
            .regex(/^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/)
            .max(63),
        namespace: z =>
          z.string({ description: 'Entity namespace' }).default('default'),
        title: z =>
          z.string({ description: 'Display title' }).max(255).optional(),
        description: z =>
          z.string({ description: 'Description' }).max(10000).optional(),
        type: z => z.enum(MODEL_TYPES, { description: 'Model type' }),
        task: z =>
          z.string({ description: 'Task, e.g. text-generation' }).optional(),
        format: z =>
          z.enum(MODEL_FORMATS, { description: 'Weights format' }).optional(),
        license: z => z.string({ description: 'License id' }).optional(),
        lifecycle: z =>
          z.string({ description: 'Lifecycle' }).default('experimental'),
        owner: z =>
          z.string({ description: 'Owner entity ref, default kind group' }),
        system: z =>
          z
            .string({ description: 'System entity ref the model is part of' })
            .optional(),
        tags: z => z.array(z.string(), { description: 'Tags' }).optional(),
        huggingFaceRepo: z =>
          z
            .string({
              description:
                'Hugging Face repository (org/name); empty for an upload model',
            })
            .regex(/^[A-Za-z0-9][\w.-]{0,95}\/[A-Za-z0-9][\w.-]{0,95}$/)
            .optional(),
        huggingFaceRevision: z =>
          z
            .string({ description: 'Branch, tag or commit of the repository' })
            .optional(),
        versionLabel: z =>
          z
            .string({ description: 'Label of the first version' })
            .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/)
            .default('v1'),
        notes: z =>
          z.string({ description: 'Notes of the first version' }).optional(),
        catalogInfoPath: z =>
          z
            .string({ description: 'Workspace path of the catalog file' })
            .default('catalog-info.yaml'),
      },
      output: {
        entityRef: z => z.string({ description: 'Entity ref of the Model' }),
        versionLabel: z => z.string(),
        versionState: z => z.string(),
        catalogInfoPath: z => z.string(),
        entity: z => z.record(z.unknown(), { description: 'The Model entity' }),
        links: z =>
          z.array(z.object({ title: z.string(), url: z.string() }), {
            description: 'Links to the model',
          }),
      },
    },
    async handler(ctx) {
      const input = ctx.input;
      const namespace = input.namespace ?? 'default';
      const versionLabel = input.versionLabel ?? 'v1';
      let owner;
      let system;
      try {
        owner = stringifyEntityRef(
          parseEntityRef(input.owner, {
            defaultKind: 'group',
            defaultNamespace: namespace,
          }),
        );
        system = input.system
          ? stringifyEntityRef(
              parseEntityRef(input.system, {
                defaultKind: 'system',
                defaultNamespace: namespace,
              }),
            )
          : undefined;
      } catch (e) {
        throw new InputError('Invalid owner or system entity ref', e);
      }
      const source: ModelSource = input.huggingFaceRepo
        ? {
            huggingface: {
              repo: input.huggingFaceRepo,
              ...(input.huggingFaceRevision
                ? { revision: input.huggingFaceRevision }
                : {}),
            },
          }
        : 'upload';

      const entity: ModelEntity = {
        apiVersion: MODEL_API_VERSION,
        kind: MODEL_KIND,
        metadata: {
          name: input.name,
          namespace,
          ...(input.title ? { title: input.title } : {}),
          ...(input.description ? { description: input.description } : {}),
          ...(input.tags?.length ? { tags: input.tags } : {}),
        },
        spec: {
          type: input.type,
          lifecycle: input.lifecycle ?? 'experimental',
          owner,
          ...(system ? { system } : {}),
          ...(input.task ? { task: input.task } : {}),
          ...(input.format ? { format: input.format } : {}),
          ...(input.license ? { license: input.license } : {}),
          source,
        },
      };
      const problems = findModelEntityProblems(entity);
      if (problems.length) {
        throw new InputError(`Invalid Model entity: ${problems.join('; ')}`);
      }
      const entityRef = stringifyEntityRef(entity);

      const catalogInfoPath = input.catalogInfoPath ?? 'catalog-info.yaml';
      const target = resolveSafeChildPath(ctx.workspacePath, catalogInfoPath);
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, yaml.stringify(entity), 'utf8');

      let versionState = 'draft';
      if (ctx.isDryRun) {
        ctx.logger.info(`Dry run: not creating ${entityRef} in Model Hub`);
      } else {
        const credentials = await ctx.getInitiatorCredentials();
        await ctx.checkpoint({
          key: `model-hub-create-model-${entityRef}`,
          fn: async () => {
            try {
              const model = await client.createModel(
                {
                  name: input.name,
                  namespace,
                  title: input.title,
                  description: input.description,
                  type: input.type,
                  task: input.task,
                  format: input.format,
                  license: input.license,
                  lifecycle: input.lifecycle ?? 'experimental',
                  owner,
                  tags: input.tags,
                  source,
                },
                { credentials },
              );
              return { id: model.id };
            } catch (e) {
              throw toInputError(
                `Could not create ${entityRef} in Model Hub`,
                e,
              );
            }
          },
        });
        const version = await ctx.checkpoint({
          key: `model-hub-create-version-${entityRef}-${versionLabel}`,
          fn: async () => {
            try {
              const created = await client.createVersion(
                { namespace, name: input.name },
                { label: versionLabel, source, notes: input.notes },
                { credentials },
              );
              return { state: created.state };
            } catch (e) {
              throw toInputError(
                e instanceof ResponseError && e.statusCode === 403
                  ? `Created ${entityRef}, but Model Hub refused its first version ${versionLabel} (policies that check ownership on the catalog entity allow it once the Model's catalog-info.yaml is registered; then create the version from the model page)`
                  : `Could not create version ${versionLabel} of ${entityRef}`,
                e,
              );
            }
          },
        });
        versionState = version.state;
        ctx.logger.info(
          `Created ${entityRef} with ${versionState} version ${versionLabel}`,
        );
      }

      const base = appBaseUrl.replace(/\/+$/, '');
      const entityPath = `/catalog/${encodeURIComponent(
        namespace,
      )}/model/${encodeURIComponent(input.name)}`;
      ctx.output('entityRef', entityRef);
      ctx.output('versionLabel', versionLabel);
      ctx.output('versionState', versionState);
      ctx.output('catalogInfoPath', catalogInfoPath);
      ctx.output('entity', entity as any);
      ctx.output('links', [
        { title: 'Model in the catalog', url: `${base}${entityPath}` },
        ...(input.huggingFaceRepo
          ? [
              {
                title: 'Hugging Face source',
                url: `https://huggingface.co/${input.huggingFaceRepo}`,
              },
            ]
          : []),
      ]);
    },
  });
}
