import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keeps peak RSS flat on big inputs. Streaming stages allocate short-lived buffers and strings much faster
 * than V8 decides to grow-then-collect the old generation, so RSS climbs with input size although little is
 * live (with a capped heap the same work runs in ~150 MB). A full collection of this thread's heap when the
 * process RSS passes a threshold, checked every 8 MiB handled, costs a few milliseconds per check and keeps
 * memory independent of input size. Each thread (worker) runs its own governor over its own heap.
 */
const GC_CHECK_BYTES = 8 << 20;
let forcedGc: (() => void) | null | undefined;

export function memoryGovernor(rssThreshold = 140 << 20): (bytes: number) => void {
  if (forcedGc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      forcedGc = runInNewContext('gc') as () => void;
    } catch {
      forcedGc = null;
    }
  }
  let next = GC_CHECK_BYTES;
  return (bytes) => {
    if (bytes < next || !forcedGc) return;
    next = bytes + GC_CHECK_BYTES;
    if (process.memoryUsage.rss() > rssThreshold) forcedGc();
  };
}
