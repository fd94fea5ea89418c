/** Where the server writes what operators need to see. */
export interface Logger {
  /** True when lines go to a terminal (colors are welcome); false for files and pipes. */
  readonly tty?: boolean;
  info(message: string): void;
  warn(message: string): void;
  error(message: string, err?: unknown): void;
}

/** Logs to stdout/stderr with a timestamp. */
export const consoleLogger: Logger = {
  tty: Boolean(process.stdout.isTTY),
  info: (message) => console.log(`${new Date().toISOString()} info ${message}`),
  warn: (message) => console.warn(`${new Date().toISOString()} warn ${message}`),
  error: (message, err) => console.error(`${new Date().toISOString()} error ${message}`, err ?? ''),
};

/** Discards everything (tests that do not look at logs). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** The same logger with `[node]` at the start of every line (several processes share one log). */
export function nodeLogger(base: Logger, nodeId: string): Logger {
  return {
    tty: base.tty,
    info: (message) => base.info(`[${nodeId}] ${message}`),
    warn: (message) => base.warn(`[${nodeId}] ${message}`),
    error: (message, err) => base.error(`[${nodeId}] ${message}`, err),
  };
}
