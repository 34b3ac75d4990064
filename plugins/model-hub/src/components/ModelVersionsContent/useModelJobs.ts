import { useApi } from '@backstage/core-plugin-api';
import { useCallback, useEffect, useRef, useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import useInterval from 'react-use/esm/useInterval';
import { HubJob, JobState, modelHubApiRef } from '../../api';
import { JobSignal, useJobSignals } from '../JobsPage/useJobSignals';

const ACTIVE: JobState[] = ['queued', 'running'];
/**
 * How often the jobs are listed again while signals are available: each
 * list renews the backend's record (for 5 minutes) that this user receives
 * the signals of the models they may read.
 */
const RENEW_MS = 120_000;
/** How often the jobs are listed without signals, while one is active. */
const POLL_MS = 3000;
/** The most active jobs of a model listed. */
const LIMIT = 50;

/**
 * The queued and running jobs of a model, with live progress from the jobs
 * signals channel (filtered to this model's jobs), or polling where the
 * app has no signals. Calls `onFinished` once per job of the model that
 * ends (a signal of its end, or it left the active list), so the page can
 * fetch the versions and files the job changed.
 */
export function useModelJobs(options: {
  entityRef: string;
  /** The hub's id of the model (`HubModel.id`), once loaded. */
  modelId?: string;
  onFinished(jobId: string): void;
}): {
  jobs: HubJob[];
  isLive: boolean;
  /** Lists the jobs again (after the page queued one). */
  reload(): void;
} {
  const { entityRef, modelId } = options;
  const api = useApi(modelHubApiRef);
  const { pending, handled, isSignalsAvailable } = useJobSignals();
  const [live, setLive] = useState<Record<string, JobSignal>>({});
  const onFinished = useRef(options.onFinished);
  onFinished.current = options.onFinished;
  const ended = useRef(new Set<string>());
  const listed = useRef<{ entityRef: string; ids: string[] }>();

  // also what keeps the signals coming: GET /jobs records the caller
  const list = useAsyncRetry(
    () => api.listJobs({ model: entityRef, state: ACTIVE, limit: LIMIT }),
    [api, entityRef],
  );
  const { retry } = list;

  const finish = useCallback((jobId: string) => {
    if (!ended.current.has(jobId)) {
      ended.current.add(jobId);
      onFinished.current(jobId);
    }
  }, []);

  // a job that left the active list ended (a missed signal, or polling)
  useEffect(() => {
    if (!list.value) {
      return;
    }
    const ids = list.value.items.map(j => j.id);
    if (listed.current?.entityRef === entityRef) {
      listed.current.ids.filter(id => !ids.includes(id)).forEach(finish);
    }
    // a job retried after it ended may end again
    ids.forEach(id => ended.current.delete(id));
    listed.current = { entityRef, ids };
  }, [list.value, entityRef, finish]);

  // the signals of this model's jobs: progress, new jobs, ends
  useEffect(() => {
    if (!pending.length) {
      return;
    }
    let reload = false;
    const mine: Record<string, JobSignal> = {};
    for (const signal of pending) {
      const known = list.value?.items.find(j => j.id === signal.jobId);
      const ours =
        known !== undefined ||
        (modelId !== undefined && signal.modelId === modelId);
      if (!ours) {
        continue;
      }
      mine[signal.jobId] = signal;
      if (signal.state && !ACTIVE.includes(signal.state)) {
        finish(signal.jobId);
        reload = true;
      } else if (!known || (signal.state && signal.state !== known.state)) {
        reload = true;
      }
    }
    handled(pending.length);
    if (Object.keys(mine).length) {
      setLive(prev => ({ ...prev, ...mine }));
    }
    if (reload) {
      retry();
    }
    // only new signals are handled; the list's changes are handled above
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pending]);

  const jobs = (list.value?.items ?? []).map(j => {
    const signal = live[j.id];
    return signal
      ? {
          ...j,
          state: signal.state ?? j.state,
          progress: signal.progress ?? j.progress,
        }
      : j;
  });

  let every: number | null = null;
  if (isSignalsAvailable) {
    every = RENEW_MS;
  } else if (jobs.some(j => ACTIVE.includes(j.state))) {
    every = POLL_MS;
  }
  useInterval(retry, every);

  return { jobs, isLive: isSignalsAvailable, reload: retry };
}
