import type { HubVersionReview } from '@model-hub/backstage-plugin-model-hub-common';
import type { HubCheck, HubReview } from './types';

/** An entry of a version's audit trail (`GET …/history`). */
export type HistoryEntry = {
  id: number;
  eventId: string;
  actor: string;
  meta?: Record<string, unknown>;
  createdAt: string;
};

/** The approval timeline of a version, from its audit trail. */
export function toReviews(items: HistoryEntry[]): HubReview[] {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return items.map(e => ({
    id: e.id,
    action: str(e.meta?.action) ?? e.eventId.replace(/^version-/, ''),
    actor: e.actor,
    comment: str(e.meta?.comment),
    fromState: str(e.meta?.from) as HubReview['fromState'],
    toState: str(e.meta?.to) as HubReview['toState'],
    createdAt: e.createdAt,
  }));
}

/** The checks of a version's review data, each with its waiver. */
export function checksWithWaivers(review: HubVersionReview): HubCheck[] {
  const waivers = new Map(
    (review.checks?.waivers ?? []).map(w => [w.checkName, w]),
  );
  return (review.checks?.items ?? []).map(c => {
    const waiver = waivers.get(c.name);
    return waiver
      ? {
          ...c,
          waiver: {
            reason: waiver.reason,
            waivedBy: waiver.waivedBy,
            ...(waiver.lapsed ? { lapsed: true } : {}),
          },
        }
      : c;
  });
}
