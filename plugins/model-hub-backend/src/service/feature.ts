import {
  HttpRouterServiceAuthPolicy,
  LoggerService,
  SchedulerService,
  SchedulerServiceTaskFunction,
  SchedulerServiceTaskScheduleDefinition,
} from '@backstage/backend-plugin-api';
import { Router } from 'express';
import { JobExecutor } from '../jobs/JobWorker';
import type { JobRunner } from '../jobs/JobRunner';
import type { RouteContext } from './context';

export type { DownloadAuthorizer, VersionApprovals } from './context';

/**
 * The seam between the core of the hub (stores, artifact store, file
 * ingest, jobs, the core routes) and its optional features (Hugging Face
 * sync, mirror, uploads, approvals, transfer, lifecycle, catalog sync,
 * audit): a feature contributes routes, scheduled tasks and job executors
 * through {@link ModelHubFeature}; `plugin.ts` builds the core and installs
 * every feature with {@link installFeatures}. The core never imports a
 * feature: where it needs a feature's answer (the served version, who may
 * download), it names an interface (`VersionApprovals`, `DownloadAuthorizer`
 * in `context.ts`) and the feature supplies it.
 */

/** Adds routes to the Model Hub router. @internal */
export type RouteExtension = (router: Router, ctx: RouteContext) => void;

/**
 * A task of a feature, scheduled once per plugin: `schedule` holds the
 * frequency, timeout, initial delay and scope (default `global`).
 *
 * @internal
 */
export type FeatureTask = {
  id: string;
  schedule: SchedulerServiceTaskScheduleDefinition;
  /** One run; what it returns is ignored. */
  fn: (signal: AbortSignal) => Promise<unknown> | void;
};

/**
 * Executors of job types run by one pool of workers of the core's job
 * queue (`concurrency` jobs at a time).
 *
 * @internal
 */
export type JobPool = {
  concurrency: number;
  executors: Record<string, JobExecutor>;
};

/**
 * What a feature contributes. A feature that is configured off still
 * answers its paths: its `routes` are then its disabled routes (503, or 404
 * for the mirror), so that the route table never changes; every feature
 * module also exports those disabled routes for a router without it.
 *
 * Factories return this shape, optionally with more members (the services
 * other features use, e.g. the approvals workflow).
 *
 * @internal
 */
export type ModelHubFeature = {
  /** Name in logs and errors. */
  id: string;
  routes: RouteExtension[];
  tasks?: FeatureTask[];
  jobs?: JobPool[];
  /** Paths the feature opens (e.g. `unauthenticated` for Hub clients). */
  authPolicies?: HttpRouterServiceAuthPolicy[];
};

/**
 * The contributions of features, installed once: tasks scheduled, job pools
 * added to the core's job runner, auth policies added; returns their
 * routes in order, for the router.
 *
 * @internal
 */
export async function installFeatures(
  features: ModelHubFeature[],
  deps: {
    scheduler: SchedulerService;
    jobs?: JobRunner;
    httpRouter?: { addAuthPolicy(policy: HttpRouterServiceAuthPolicy): void };
    logger: LoggerService;
  },
): Promise<RouteExtension[]> {
  const routes: RouteExtension[] = [];
  for (const feature of features) {
    for (const task of feature.tasks ?? []) {
      await deps.scheduler.scheduleTask({
        id: task.id,
        scope: 'global',
        ...task.schedule,
        fn: async signal => {
          await task.fn(signal);
        },
      });
    }
    for (const pool of feature.jobs ?? []) {
      if (!deps.jobs) {
        throw new Error(
          `Feature ${feature.id} has job executors but the hub has no job runner`,
        );
      }
      deps.jobs.addPool(pool);
    }
    for (const policy of feature.authPolicies ?? []) {
      deps.httpRouter?.addAuthPolicy(policy);
    }
    routes.push(...feature.routes);
    deps.logger.debug(`Model Hub feature ${feature.id} installed`);
  }
  return routes;
}

/**
 * Runs a task's work and logs its failure instead of throwing it, so that
 * a failing run never stops the scheduler.
 *
 * @internal
 */
export function loggedTask(
  logger: LoggerService,
  what: string,
  fn: SchedulerServiceTaskFunction,
): SchedulerServiceTaskFunction {
  return async signal => {
    try {
      await fn(signal);
    } catch (error) {
      logger.error(`${what} failed`, error as Error);
    }
  };
}
