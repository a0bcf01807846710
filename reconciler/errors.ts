// Errors of the reconciler, sorted the way STYLE.md sorts them: `stalling` needs a person to fix
// something (a wrong ref, a missing secret) and is not retried before the next interval;
// `transient` (a network failure, a timeout) is retried with backoff. Every message is already
// free of credentials when it is built.

export type ErrorKind = 'stalling' | 'transient';

export class SourceError extends Error {
  /**
   * @param reason PascalCase, e.g. `AuthenticationFailed`, `RefNotFound`, `Unreachable`.
   * @param message What happened and what to do, with no credential in it.
   */
  constructor(
    readonly kind: ErrorKind,
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SourceError';
  }
}
