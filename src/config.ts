/**
 * The relay's settings, parsed once per `env` object from wrangler vars and secrets.
 * Empty strings mean "unset": wrangler vars cannot be absent in `wrangler.toml`.
 */
import { z } from "zod";
import { AppError } from "./errors";
import { normalizeInstanceUrl } from "./lib/instance-url";

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : undefined));

const configSchema = z.object({
  ADMIN_TOKEN: optionalText,
  FEEDBACK_TOKEN: optionalText,
  ENCRYPTION_KEY: optionalText,
  /** Keys the check tag of webhook tokens; comma-separated during a rotation. */
  TOKEN_CHECK_KEY: optionalText,
  PACKIT_GITLAB_TOKEN_SECRET: optionalText,
  EVENTS_SIGNING_SECRET: optionalText,
  PACKIT_SERVICE_URL: optionalText.pipe(z.url().optional()),
  EVENTS_URL: optionalText.pipe(z.url().optional()),
  BOT_USERNAMES: optionalText.transform((v) =>
    (v ?? "")
      .split(",")
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean),
  ),
  RETENTION_DAYS: optionalText
    .transform((v) => v ?? "14")
    .pipe(z.coerce.number<string>().int().min(1).max(365)),
  ALLOW_HTTP_INSTANCES: optionalText.transform((v) => v === "true"),
  /** Delivery timings (defaults as documented; tests and `npm run soak` shorten them). */
  RETRY_BASE_SECONDS: optionalText
    .transform((v) => v ?? "30")
    .pipe(z.coerce.number<string>().int().min(1).max(3600)),
  RETRY_CAP_SECONDS: optionalText
    .transform((v) => v ?? "3600")
    .pipe(
      z.coerce
        .number<string>()
        .int()
        .min(1)
        .max(12 * 3600),
    ),
  RETRY_WINDOW_SECONDS: optionalText
    .transform((v) => v ?? "86400")
    .pipe(
      z.coerce
        .number<string>()
        .int()
        .min(60)
        .max(7 * 86_400),
    ),
  FORWARD_TIMEOUT_SECONDS: optionalText
    .transform((v) => v ?? "120")
    .pipe(z.coerce.number<string>().int().min(1).max(840)),
  /** Circuit breaker per destination: consecutive transient failures that open it, and how
   * long it stays open first (doubling per failed probe, up to the maximum). */
  CIRCUIT_FAILURES: optionalText
    .transform((v) => v ?? "5")
    .pipe(z.coerce.number<string>().int().min(1).max(1000)),
  CIRCUIT_OPEN_SECONDS: optionalText
    .transform((v) => v ?? "10")
    .pipe(z.coerce.number<string>().int().min(1).max(3600)),
  CIRCUIT_MAX_OPEN_SECONDS: optionalText
    .transform((v) => v ?? "20")
    .pipe(z.coerce.number<string>().int().min(1).max(86_400)),
  /** Cloudflare Access in front of /console: the team domain and the application's audience. */
  ACCESS_TEAM_DOMAIN: optionalText.pipe(z.url().optional()),
  ACCESS_AUD: optionalText,
});

export type Config = z.infer<typeof configSchema>;

/** How a delivery is retried and how long one forward may take, from the configuration. */
export function deliveryTimings(config: Config) {
  const forwardTimeoutMs = config.FORWARD_TIMEOUT_SECONDS * 1000;
  return {
    backoff: {
      baseSeconds: config.RETRY_BASE_SECONDS,
      capSeconds: Math.max(config.RETRY_CAP_SECONDS, config.RETRY_BASE_SECONDS),
    },
    retryWindowMs: config.RETRY_WINDOW_SECONDS * 1000,
    forwardTimeoutMs,
    /** How long one copy of a message may forward before another copy may take over. */
    leaseMs: 2 * forwardTimeoutMs + 30_000,
  };
}
export type DeliveryTimings = ReturnType<typeof deliveryTimings>;

const cache = new WeakMap<object, Config>();

export function readConfig(env: Env): Config {
  let config = cache.get(env);
  if (!config) {
    config = configSchema.parse(env);
    cache.set(env, config);
  }
  return config;
}

/**
 * What the configuration contradicts or lacks, one sentence each: shown by /healthz
 * (degraded), GET /admin/stats and `npm start`. A destination with its URL but without its
 * secret is off, never retried: fixing the setting and replaying recovers its events.
 */
export function configProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.PACKIT_SERVICE_URL && !config.PACKIT_GITLAB_TOKEN_SECRET) {
    problems.push(
      "PACKIT_SERVICE_URL is set but PACKIT_GITLAB_TOKEN_SECRET is not: packit-compat forwarding is off",
    );
  }
  if (config.EVENTS_URL && !config.EVENTS_SIGNING_SECRET?.startsWith("whsec_")) {
    problems.push(
      "EVENTS_URL is set but EVENTS_SIGNING_SECRET is not a whsec_ secret: normalized events are off",
    );
  }
  if (!config.PACKIT_SERVICE_URL && !config.EVENTS_URL) {
    problems.push(
      "neither PACKIT_SERVICE_URL nor EVENTS_URL is set: events are recorded undeliverable",
    );
  }
  if ((config.TOKEN_CHECK_KEY ?? "").split(",").every((k) => k.trim().length < 32)) {
    problems.push(
      "TOKEN_CHECK_KEY is unset or shorter than 32 characters: webhook tokens cannot be issued or verified",
    );
  }
  if (!config.ENCRYPTION_KEY) {
    problems.push(
      "ENCRYPTION_KEY is not set: stored GitLab tokens and signing secrets cannot be used",
    );
  }
  if (!config.ADMIN_TOKEN) {
    problems.push("ADMIN_TOKEN is not set: the admin API refuses every request");
  }
  if (!config.FEEDBACK_TOKEN) {
    problems.push("FEEDBACK_TOKEN is not set: the feedback API refuses every request");
  }
  return problems;
}

export function requireEncryptionKey(env: Env): string {
  const key = readConfig(env).ENCRYPTION_KEY;
  if (!key) {
    throw new AppError("unavailable", "ENCRYPTION_KEY is not configured");
  }
  return key;
}

/** An instance URL as stored (normalised), or a 400 naming what is wrong with it. */
export function instanceUrlOrThrow(env: Env, input: string): string {
  const result = normalizeInstanceUrl(input, readConfig(env).ALLOW_HTTP_INSTANCES);
  if (!result.ok) {
    throw new AppError("validation_failed", `instance url: ${result.reason}`);
  }
  return result.url;
}
