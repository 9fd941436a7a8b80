/**
 * The Worker: HTTP (ingress, admin, feedback), the events queue and its dead letters, and cron.
 * workerd takes every export of this module as a handler: export nothing else from here.
 */
import { createApp } from "./app";
import { readConfig } from "./config";
import { SYNC_EVERY_MINUTES, syncGroups } from "./connect/group-sync";
import { checkHookHealth } from "./connect/hook-health";
import { PURGE_CRON } from "./cron";
import { probeDue } from "./delivery/circuit-gate";
import { configuredDestinations } from "./delivery/destinations";
import { redriveStuck } from "./delivery/redrive";
import { purgeExpired } from "./delivery/retention";
import { circuitKeyFor } from "./delivery/send-to-destination";
import { connectDeps, consumerDeps, repos } from "./deps";
import { sweepInbox } from "./events/inbox-sweep";
import { forgetTokens } from "./ingress/authenticate";
import { log } from "./lib/logger";
import { consumeQueue, queueDeps } from "./queues";

const app = createApp();

export default {
  fetch: app.fetch,

  // Queue bodies are untrusted until the consumer's schema says otherwise.
  async queue(batch, env, _ctx): Promise<void> {
    await consumeQueue(batch, queueDeps(env));
  },

  // The purge runs on its own schedule; every other cron sweeps the inbox.
  async scheduled(controller, env, _ctx): Promise<void> {
    if (controller.cron !== PURGE_CRON) {
      await sweep(env, controller.cron, controller.scheduledTime);
      return;
    }
    const purged = await purgeExpired(
      { ...repos(env.DB), bodies: env.BODIES },
      readConfig(env).RETENTION_DAYS,
      controller.scheduledTime,
    );
    if (purged.deliveries || purged.feedback || purged.bodies) {
      log("info", "expired deliveries purged", { ...purged });
    }
  },
} satisfies ExportedHandler<Env, unknown>;

async function sweep(env: Env, cron: string, now: number): Promise<void> {
  const r = repos(env.DB);
  const swept = await sweepInbox(r.inbox, env.EVENTS_QUEUE, now);
  if (swept.sent || swept.failed || swept.malformed) {
    log("info", "inbox swept", { cron, ...swept });
  }
  await redriveStuck(r.deliveries, env.EVENTS_QUEUE, now).catch((err) => {
    log("error", "could not re-drive stuck deliveries", { error: String(err) });
  });
  const delivery = consumerDeps(env);
  const keys = configuredDestinations(delivery.config).map((d) =>
    circuitKeyFor(d, delivery.config),
  );
  await probeDue(delivery.circuits, keys).catch((err) => {
    log("error", "could not probe destinations whose circuit wait is over", {
      error: String(err),
    });
  });
  if (new Date(now).getUTCMinutes() % SYNC_EVERY_MINUTES === 0) {
    const synced = await syncGroups(connectDeps(env, r, forgetTokens)).catch((err) => {
      log("error", "could not sync group hooks", { error: String(err) });
      return null;
    });
    if (synced?.groups) {
      log("info", "group hooks sync", { ...synced });
    }
    await checkHookHealth(connectDeps(env, r, forgetTokens)).catch((err) => {
      log("error", "could not read hook health", { error: String(err) });
    });
  }
}
