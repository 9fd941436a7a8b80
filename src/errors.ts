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

  /** `cause`: the underlying error, logged (with its stack) but never shown to the client. */
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = STATUS[code];
  }
}

/** An error and its causes as log fields: name, message and stack, never a secret's value. */
export function errorFields(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) {
    return { error: String(err) };
  }
  return {
    error: `${err.name}: ${err.message}`,
    stack: err.stack,
    ...(err.cause !== undefined ? { cause: errorFields(err.cause) } : {}),
  };
}

export function errorBody(code: ErrorCode, message: string, requestId: string) {
  return { error: { code, message, request_id: requestId } };
}

function fromHttpException(err: HTTPException): AppError {
  const code = (Object.keys(STATUS) as ErrorCode[]).find((k) => STATUS[k] === err.status);
  return new AppError(code ?? "bad_request", err.message || "request rejected");
}

/**
 * Hono's onError: own errors as they are, framework errors mapped, the rest a bare 500.
 * Every 5xx and every unknown error is logged here, once, with its stack and cause.
 */
export function renderError(err: unknown, c: Context<AppEnv>): Response {
  const requestId = c.get("requestId") ?? "unknown";
  let appError: AppError;
  if (err instanceof AppError) {
    appError = err;
  } else if (err instanceof HTTPException) {
    appError = fromHttpException(err);
  } else {
    appError = new AppError("internal_error", "internal error", {}, { cause: err });
  }
  if (appError.status >= 500) {
    log("error", appError.code === "internal_error" ? "unhandled error" : "request failed", {
      request_id: requestId,
      path: c.req.path,
      ...errorFields(appError.cause ?? appError),
    });
  }
  return c.json(errorBody(appError.code, appError.message, requestId), appError.status, {
    ...appError.headers,
    "X-Request-Id": requestId,
  });
}
