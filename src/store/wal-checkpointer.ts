import { Worker } from 'node:worker_threads';

/** The worker's code: its own connection to the same file, checkpointing on a timer until told to stop. */
const WORKER_CODE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  const [state] = db.pragma('wal_checkpoint(PASSIVE)');
  // Under writes that never pause, a passive checkpoint never catches up, so no commit
  // finds the WAL fully copied and starts it over: it would grow without end. Past the
  // limit, rewind it; writers wait only for the frames committed since the pass above.
  if (state.log > workerData.restartFrames) db.pragma('wal_checkpoint(RESTART)');
}, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Checkpoints a WAL database from a worker thread: copying committed pages back into
 * the database file and the fsync that follows run beside the event loop instead of
 * inside whichever commit crosses the auto-checkpoint threshold (that stalled a busy
 * server for milliseconds at a time and cost a fifth of its write throughput).
 * The owner turns auto-checkpointing off while this runs, and on again if it fails.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private stopping = false;

  /**
   * Starts checkpointing `file` every `intervalMs`, rewinding the WAL once it holds more
   * than `restartFrames` pages; `onFailure` runs once if the worker dies.
   */
  constructor(file: string, intervalMs: number, restartFrames: number, onFailure: (reason: string) => void) {
    this.worker = new Worker(WORKER_CODE, { eval: true, workerData: { file, intervalMs, restartFrames, driver: require.resolve('better-sqlite3') } });
    let failed = false;
    const fail = (reason: string) => {
      if (failed || this.stopping) return;
      failed = true;
      onFailure(reason);
    };
    this.worker.on('error', (err) => fail(err.message));
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        fail(`checkpoint worker exited with code ${code}`);
        resolve();
      }),
    );
    // A background helper: it never keeps the process alive on its own.
    this.worker.unref();
  }

  /** Stops the worker after its current checkpoint and waits for it (at most 5 s, then terminates it). */
  async close(): Promise<void> {
    if (this.stopping) return this.exited;
    this.stopping = true;
    this.worker.postMessage('stop');
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
