import { sharedInspectionPool } from './InspectionPool';
import { ByteSource } from './source';
import { InspectionCheck, InspectionLimits } from './types';

export {
  PICKLE_EXTENSIONS,
  failedInspection,
  inspectFileInThread,
} from './inspectInThread';

/**
 * Inspects one file of a version by its extension and content, returning
 * the checks to store (none for files of no known format that hold no
 * pickle). The parsing runs in a worker thread of the shared inspection
 * pool, off the event loop, with the CPU-time, wall-time and memory limits
 * of `limits`; reads of `source` happen on the calling thread. A file
 * whose inspection cannot complete gets a failed check with the reason.
 *
 * @internal
 */
export function inspectFile(
  path: string,
  source: ByteSource,
  limits: InspectionLimits,
): Promise<InspectionCheck[]> {
  return sharedInspectionPool(limits.workers).inspect(path, source, limits);
}
