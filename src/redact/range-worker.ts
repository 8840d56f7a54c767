import { parentPort, workerData } from 'node:worker_threads';
import { describeFailure, RangeTask, type EngineInit, type RangeJob } from './parallel.js';

// A thread that reads ranges of a file for redactInRanges: one task at a time, output to a part file.
const { init, file } = workerData as { init: EngineInit; file: string };
let task: RangeTask | undefined;

type Message = { type: 'start'; job: RangeJob } | { type: 'extend'; to: number; last: boolean; nextSection: string | null } | { type: 'finish' };

parentPort!.on('message', (m: Message) => {
  void handle(m);
});

async function handle(m: Message): Promise<void> {
  try {
    if (m.type === 'start') {
      task?.close();
      task = new RangeTask(init, file, m.job);
      parentPort!.postMessage({ type: 'result', result: await task.run() });
    } else if (m.type === 'extend') {
      parentPort!.postMessage({ type: 'result', result: await task!.extend(m.to, m.last, m.nextSection) });
    } else {
      task?.close();
      task = undefined;
      parentPort!.postMessage({ type: 'closed' });
    }
  } catch (e) {
    parentPort!.postMessage({ type: 'error', failure: describeFailure(e) });
  }
}
