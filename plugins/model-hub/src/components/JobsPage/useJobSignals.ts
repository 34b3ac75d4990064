import { useApiHolder } from '@backstage/core-plugin-api';
import { signalApiRef } from '@backstage/plugin-signals-react';
import { useCallback, useEffect, useState } from 'react';
import { JobState } from '../../api';

/**
 * The signals channel the backend publishes job progress on, to the users
 * who listed the jobs recently and may read the job's model.
 */
export const JOBS_SIGNAL_CHANNEL = 'model-hub:jobs';

/**
 * A message on the jobs channel. `modelId` (the hub's id of the job's
 * model) comes from backends that send it.
 */
export type JobSignal = {
  jobId: string;
  modelId?: string;
  type?: string;
  state?: JobState;
  progress?: Record<string, unknown>;
};

/**
 * Every message of the jobs channel, in order, until the caller says it
 * handled them. `useSignal` keeps only the last message before a render,
 * so of two jobs' signals that come in the same tick the first (maybe a
 * job's end) would be lost; here an effect on `pending` sees both, and
 * calls `handled(pending.length)` (messages that came meanwhile stay).
 */
export function useJobSignals(): {
  pending: JobSignal[];
  handled(count: number): void;
  isSignalsAvailable: boolean;
} {
  const signals = useApiHolder().get(signalApiRef);
  const [pending, setPending] = useState<JobSignal[]>([]);
  useEffect(() => {
    if (!signals) {
      return undefined;
    }
    const { unsubscribe } = signals.subscribe(JOBS_SIGNAL_CHANNEL, message => {
      const signal = message as JobSignal | null;
      if (signal?.jobId) {
        setPending(prev => [...prev, signal]);
      }
    });
    return unsubscribe;
  }, [signals]);
  const handled = useCallback(
    (count: number) => setPending(prev => prev.slice(count)),
    [],
  );
  return { pending, handled, isSignalsAvailable: !!signals };
}
