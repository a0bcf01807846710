// The one way a route answers with an error: throw an ApiError and the app's error handler turns
// it into `{ error: { code, message } }` with its status. Anything else thrown becomes a 500.
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export class ApiError extends Error {
  /**
   * @param code PascalCase, e.g. `NotFound`, `BadRequest`, `Forbidden`.
   * @param message Shown to the client as is: what was wrong and how to fix it.
   */
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function notFound(message: string): ApiError {
  return new ApiError(404, 'NotFound', message);
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}
