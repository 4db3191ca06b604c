// The error vocabulary of every service: domain code throws these, and exactly one fault renderer
// per API family (platform/http/faults.ts) turns them into HTTP. Nothing here knows about HTTP bodies.

export type ErrorFields = Readonly<Record<string, unknown>>;

/** Base of every expected failure. `code` is stable and listed in docs/errors.md. */
export class NubesError extends Error {
  readonly code: string;
  readonly status: number;
  readonly fields: ErrorFields;
  constructor(code: string, status: number, message: string, fields: ErrorFields = {}) {
    super(message);
    this.name = 'NubesError';
    this.code = code;
    this.status = status;
    this.fields = fields;
  }
}

export class BadRequest extends NubesError {
  constructor(message: string, code = 'bad_request', fields: ErrorFields = {}) {
    super(code, 400, message, fields);
    this.name = 'BadRequest';
  }
}

export class Unauthorized extends NubesError {
  constructor(message: string, code = 'unauthorized', fields: ErrorFields = {}) {
    super(code, 401, message, fields);
    this.name = 'Unauthorized';
  }
}

export class Forbidden extends NubesError {
  constructor(message: string, code = 'forbidden', fields: ErrorFields = {}) {
    super(code, 403, message, fields);
    this.name = 'Forbidden';
  }
}

export class NotFound extends NubesError {
  constructor(message: string, code = 'not_found', fields: ErrorFields = {}) {
    super(code, 404, message, fields);
    this.name = 'NotFound';
  }
}

export class Conflict extends NubesError {
  constructor(message: string, code = 'conflict', fields: ErrorFields = {}) {
    super(code, 409, message, fields);
    this.name = 'Conflict';
  }
}

/** A compare-and-swap on a state column found the resource in another state. */
export class InvalidState extends NubesError {
  constructor(message: string, code = 'invalid_state', fields: ErrorFields = {}) {
    super(code, 409, message, fields);
    this.name = 'InvalidState';
  }
}

export class PayloadTooLarge extends NubesError {
  constructor(message: string, code = 'payload_too_large', fields: ErrorFields = {}) {
    super(code, 413, message, fields);
    this.name = 'PayloadTooLarge';
  }
}

export class OverLimit extends NubesError {
  constructor(message: string, code = 'over_limit', fields: ErrorFields = {}) {
    super(code, 413, message, fields);
    this.name = 'OverLimit';
  }
}

export class Unavailable extends NubesError {
  constructor(message: string, code = 'unavailable', fields: ErrorFields = {}) {
    super(code, 503, message, fields);
    this.name = 'Unavailable';
  }
}

export function isNubesError(e: unknown): e is NubesError {
  return (
    e instanceof Error &&
    typeof (e as Partial<NubesError>).code === 'string' &&
    typeof (e as Partial<NubesError>).status === 'number' &&
    'fields' in e
  );
}

export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}
