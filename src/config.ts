/**
 * The relay's settings, parsed once per `env` object from wrangler vars and secrets.
 * Empty strings mean "unset": wrangler vars cannot be absent in `wrangler.toml`.
 */
import { z } from "zod";

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
});

export type Config = z.infer<typeof configSchema>;

const cache = new WeakMap<object, Config>();

export function readConfig(env: Env): Config {
  let config = cache.get(env);
  if (!config) {
    config = configSchema.parse(env);
    cache.set(env, config);
  }
  return config;
}
