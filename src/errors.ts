/**
 * The one error type of the relay and its one renderer. Every error response is
 * `{"error":{"code","message","request_id"}}`; messages never carry secrets or internals.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./app-env";
import { log } from "./lib/logger";

const STATUS = {
  bad_request: 400,
  invalid_json: 400,
  invalid_payload: 400,
  missing_event_header: 400,
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  internal_error: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof STATUS;
export type ErrorStatus = (typeof STATUS)[ErrorCode];

export class AppError extends Error {
  override name = "AppError";
  readonly status: ErrorStatus;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = STATUS[code];
  }
}

export function errorBody(code: ErrorCode, message: string, requestId: string) {
  return { error: { code, message, request_id: requestId } };
}

function fromHttpException(err: HTTPException): AppError {
  const code = (Object.keys(STATUS) as ErrorCode[]).find((k) => STATUS[k] === err.status);
  return new AppError(code ?? "bad_request", err.message || "request rejected");
}

/** Hono's onError: own errors as they are, framework errors mapped, the rest a bare 500. */
export function renderError(err: unknown, c: Context<AppEnv>): Response {
  const requestId = c.get("requestId") ?? "unknown";
  let appError: AppError;
  if (err instanceof AppError) {
    appError = err;
  } else if (err instanceof HTTPException) {
    appError = fromHttpException(err);
  } else {
    log("error", "unhandled error", {
      request_id: requestId,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
    appError = new AppError("internal_error", "internal error");
  }
  return c.json(errorBody(appError.code, appError.message, requestId), appError.status, {
    ...appError.headers,
    "X-Request-Id": requestId,
  });
}
