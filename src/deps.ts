/** Narrow bindings for the adapters, built from `env` in one place. */
import type { EnqueueDeps } from "./events/enqueue";
import { InboxRepo } from "./storage/inbox-repo";

export function enqueueDeps(env: Env): EnqueueDeps {
  return {
    queue: env.EVENTS_QUEUE,
    bodies: env.BODIES,
    inbox: new InboxRepo(env.DB),
  };
}
