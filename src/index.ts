/** The Worker: HTTP (ingress, admin), the events queue and its dead letters, and cron. */
import { createApp } from "./app";
import { consumeDeadLetters, consumeEvents } from "./delivery/consumer";
import { sweepInbox } from "./events/inbox-sweep";
import { log } from "./lib/logger";
import { InboxRepo } from "./storage/inbox-repo";

const app = createApp();

const DEAD_LETTER_QUEUE_SUFFIX = "-dlq";

export default {
  fetch: app.fetch,

  // Queue bodies are untrusted until the consumer's schema says otherwise.
  async queue(batch, env, _ctx): Promise<void> {
    if (batch.queue.endsWith(DEAD_LETTER_QUEUE_SUFFIX)) {
      await consumeDeadLetters(batch, env);
    } else {
      await consumeEvents(batch, env);
    }
  },

  async scheduled(controller, env, _ctx): Promise<void> {
    const swept = await sweepInbox(new InboxRepo(env.DB), env.EVENTS_QUEUE);
    if (swept.sent || swept.failed || swept.malformed) {
      log("info", "inbox swept", { cron: controller.cron, ...swept });
    }
  },
} satisfies ExportedHandler<Env, unknown>;
