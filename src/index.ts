/** The Worker: HTTP (ingress, admin), the events queue and its dead letters, and cron. */
import { createApp } from "./app";
import { consumeDeadLetters, consumeEvents } from "./delivery/consumer";
import { sweepInbox } from "./events/inbox-sweep";
import type { QueueMessage } from "./events/queue-message";
import { log } from "./lib/logger";
import { InboxRepo } from "./storage/inbox-repo";

const app = createApp();

const DEAD_LETTER_QUEUE_SUFFIX = "-dlq";

export default {
  fetch: app.fetch,

  async queue(batch, env): Promise<void> {
    if (batch.queue.endsWith(DEAD_LETTER_QUEUE_SUFFIX)) {
      await consumeDeadLetters(batch, env);
    } else {
      await consumeEvents(batch, env);
    }
  },

  async scheduled(controller, env): Promise<void> {
    const swept = await sweepInbox(new InboxRepo(env.DB), env.EVENTS_QUEUE);
    if (swept.sent || swept.failed || swept.malformed) {
      log("info", "inbox swept", { cron: controller.cron, ...swept });
    }
  },
} satisfies ExportedHandler<Env, QueueMessage>;
