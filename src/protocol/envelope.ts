import { ErrorCode } from './errors';

/** A parsed envelope whose data is not yet validated. */
export interface Envelope {
  event: string;
  data: unknown;
  id?: number;
}

/** Why an envelope was refused, with the id to answer when one could be read. */
export interface EnvelopeProblem {
  code: ErrorCode;
  message: string;
  id?: number;
}

function validId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/**
 * Parses one text frame into an envelope, or says why not (`bad_json` or
 * `bad_envelope`). Never throws.
 */
export function parseEnvelope(raw: string): Envelope | EnvelopeProblem {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { code: 'bad_json', message: 'frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { code: 'bad_json', message: 'frame must be a JSON object' };
  }
  const frame = value as Record<string, unknown>;
  const hasId = Object.prototype.hasOwnProperty.call(frame, 'id');
  const rawId = hasId ? frame.id : undefined;
  if (hasId && !validId(rawId)) {
    return { code: 'bad_envelope', message: 'id must be a positive integer' };
  }
  const idPart = hasId ? { id: rawId as number } : {};
  const event = Object.prototype.hasOwnProperty.call(frame, 'event') ? frame.event : undefined;
  if (typeof event !== 'string') {
    return { code: 'bad_envelope', message: 'event must be a string', ...idPart };
  }
  const data = Object.prototype.hasOwnProperty.call(frame, 'data') ? frame.data : undefined;
  return { event, data, ...idPart };
}

/** True when parseEnvelope refused the frame. */
export function isProblem(result: Envelope | EnvelopeProblem): result is EnvelopeProblem {
  return (result as EnvelopeProblem).code !== undefined;
}
