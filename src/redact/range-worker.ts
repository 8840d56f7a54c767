import { parentPort } from 'node:worker_threads';
import { describeFailure, RangeTask, type EngineInit, type RangeJob } from './parallel.js';

// A thread that reads ranges of a file for redactInRanges: one task at a time, output to a part file. What it
// redacts with comes in the first message (the thread may be started before the key is read).
let init: EngineInit;
let file: string;
let task: RangeTask | undefined;

// Progress goes to the main thread every 8 MiB read, not every chunk.
let unreported = 0;
const progress = (bytes: number): void => {
  unreported += bytes;
  if (unreported < 8 << 20) return;
  parentPort!.postMessage({ type: 'progress', bytes: unreported });
  unreported = 0;
};

function flushProgress(): void {
  if (unreported) parentPort!.postMessage({ type: 'progress', bytes: unreported });
  unreported = 0;
}

type Message = { type: 'init'; init: EngineInit; file: string } | { type: 'start'; job: RangeJob } | { type: 'extend'; to: number; last: boolean; nextSection: string | null } | { type: 'finish' };

parentPort!.on('message', (m: Message) => {
  void handle(m);
});

async function handle(m: Message): Promise<void> {
  if (m.type === 'init') {
    ({ init, file } = m);
    return;
  }
  try {
    if (m.type === 'start') {
      task?.close();
      task = new RangeTask(init, file, m.job, undefined, progress);
      const result = await task.run();
      flushProgress();
      parentPort!.postMessage({ type: 'result', result });
    } else if (m.type === 'extend') {
      const result = await task!.extend(m.to, m.last, m.nextSection);
      flushProgress();
      parentPort!.postMessage({ type: 'result', result });
    } else {
      task?.close();
      task = undefined;
      parentPort!.postMessage({ type: 'closed' });
    }
  } catch (e) {
    parentPort!.postMessage({ type: 'error', failure: describeFailure(e) });
  }
}
