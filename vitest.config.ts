import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * GitLab's documented webhook bodies, read from the shared folder when it exists (they are
 * CC BY-SA data and stay out of this repository). Passed to the tests as a binding because
 * workerd has no file system.
 */
function sharedGitlabFixtures() {
  const dir =
    process.env.GITLAB_FIXTURES_DIR ?? join(import.meta.dirname, "../shared/fixtures/gitlab");
  const headersFile = join(dir, "headers.json");
  if (!existsSync(headersFile)) {
    return { present: false, files: [] };
  }
  const headers: Record<string, string> = JSON.parse(readFileSync(headersFile, "utf8"));
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".json") && name !== "headers.json")
    .map((name) => ({
      name,
      event: headers[name] ?? "",
      body: readFileSync(join(dir, name), "utf8"),
    }));
  return { present: true, files };
}

// Tests run inside workerd with the bindings of wrangler.toml: real local D1 (with the
// migrations of migrations/ applied), Queues and R2. Storage is isolated per test file.
export default defineConfig(async () => {
  // Wrangler's lines about .dev.vars, once per test file ("Using secrets defined in
  // .dev.vars", or with none, "Missing required secrets") are noise here: every binding a
  // test sees is pinned below. Its errors still show.
  process.env.WRANGLER_LOG ??= "error";
  const migrations = await readD1Migrations({ migrationsDir: "migrations" });
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            // Loopback doubles of packit-service and an events receiver (test/doubles).
            TEST_DOUBLES_URL: `http://127.0.0.1:${inject("doublesPort")}`,
            // The queue consumer that miniflare runs by itself forwards here.
            PACKIT_SERVICE_URL: `http://127.0.0.1:${inject("doublesPort")}/shared`,
            TEST_MIGRATIONS: migrations,
            FUZZ_SEED: process.env.FUZZ_SEED ?? "",
            REQUIRE_GITLAB_FIXTURES: process.env.REQUIRE_GITLAB_FIXTURES ?? "",
            TEST_GITLAB_FIXTURES: sharedGitlabFixtures(),
            ADMIN_TOKEN: "test-admin-token",
            FEEDBACK_TOKEN: "test-feedback-token",
            // base64 of 32 fixed bytes: a test key, never a real one
            ENCRYPTION_KEY: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            TOKEN_CHECK_KEY: "test-token-check-key-not-a-real-one-000000",
            PACKIT_GITLAB_TOKEN_SECRET: "gitlab-token-secret",
            EVENTS_SIGNING_SECRET: "",
            ALLOW_HTTP_INSTANCES: "true",
            // Every setting is pinned, so a developer's .dev.vars never changes a test run.
            EVENTS_URL: "",
            BOT_USERNAMES: "",
            RETENTION_DAYS: "14",
          },
        },
      })),
    ],
    test: {
      // scripts/*.test.mjs are Node-side tests, run by `node --test` (they spawn processes).
      include: ["test/**/*.test.ts"],
      globalSetup: ["./test/doubles/global-setup.ts"],
      setupFiles: ["./test/helpers/apply-migrations.ts", "./test/helpers/network-guard.ts"],
      // Log lines of passing tests are noise; a failing test still shows its own.
      silent: "passed-only" as const,
    },
  };
});
