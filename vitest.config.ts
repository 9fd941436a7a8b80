import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Tests run inside workerd with the bindings of wrangler.toml: real local D1 (with the
// migrations of migrations/ applied), Queues and R2. Storage is isolated per test file.
export default defineConfig(async () => {
  const migrations = await readD1Migrations({ migrationsDir: "migrations" });
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            ADMIN_TOKEN: "test-admin-token",
            FEEDBACK_TOKEN: "test-feedback-token",
            // base64 of 32 fixed bytes: a test key, never a real one
            ENCRYPTION_KEY: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            PACKIT_GITLAB_TOKEN_SECRET: "gitlab-token-secret",
            EVENTS_SIGNING_SECRET: "",
            ALLOW_HTTP_INSTANCES: "true",
          },
        },
      }),
    ],
    test: {
      setupFiles: ["./test/helpers/apply-migrations.ts"],
      // Log lines of passing tests are noise; a failing test still shows its own.
      silent: "passed-only",
    },
  };
});
