/**
 * The composition root: every repository and every capability's dependencies are built here
 * from the Worker's bindings, and nowhere else. Routes read `c.var.repos`; the queue and cron
 * handlers call these builders. Each capability declares the narrow deps it needs.
 */
import type { Repos } from "./app-env";
import { deliveryTimings, readConfig } from "./config";
import type { ConnectDeps } from "./connect/connect-flow";
import type { ConsumerDeps } from "./delivery/consumer";
import type { EnqueueDeps } from "./events/enqueue";
import type { FeedbackDeps } from "./feedback/feedback-deps";
import { gitlabMergeRequestSource, type MergeRequestSource } from "./gitlab/merge-request-lookup";
import { gitlabProjectLookup, type ProjectLookup } from "./gitlab/project-lookup";
import { slots } from "./lib/slots";
import { batchWindow } from "./storage/batch-window";
import { CircuitsRepo } from "./storage/circuits-repo";
import { ConnectionsRepo } from "./storage/connections-repo";
import { DeliveriesRepo } from "./storage/deliveries-repo";
import { FeedbackRepo } from "./storage/feedback-repo";
import { InboxRepo } from "./storage/inbox-repo";
import { InstancesRepo } from "./storage/instances-repo";
import { OverviewRepo } from "./storage/overview-repo";
import { ProjectsRepo } from "./storage/projects-repo";
import { SealedSecretsRepo } from "./storage/sealed-secrets-repo";
import { StatsRepo } from "./storage/stats-repo";

/** The D1 repositories over one database binding (cheap: they hold only the binding). */
export function repos(db: D1Database): Repos {
  return {
    circuits: new CircuitsRepo(db),
    connections: new ConnectionsRepo(db),
    deliveries: new DeliveriesRepo(db),
    feedback: new FeedbackRepo(db),
    inbox: new InboxRepo(db),
    instances: new InstancesRepo(db),
    overview: new OverviewRepo(db),
    projects: new ProjectsRepo(db),
    sealedSecrets: new SealedSecretsRepo(db),
    stats: new StatsRepo(db),
  };
}

/** Which project a merge request's source is in (a fork's statuses, for feedback). */
export function mergeRequestSource(env: Env): MergeRequestSource {
  return gitlabMergeRequestSource({
    encryptionKey: readConfig(env).ENCRYPTION_KEY,
    fetcher: (input, init) => fetch(input, init),
    now: Date.now,
  });
}

/** GitLab's id → path answers (renames at ingress, namespace coverage for feedback). */
export function projectLookup(env: Env): ProjectLookup {
  return gitlabProjectLookup({
    encryptionKey: readConfig(env).ENCRYPTION_KEY,
    fetcher: (input, init) => fetch(input, init),
    now: Date.now,
  });
}

export function enqueueDeps(env: Env): EnqueueDeps {
  return { queue: env.EVENTS_QUEUE, bodies: env.BODIES, inbox: new InboxRepo(env.DB) };
}

const RECORD_WINDOW_MS = 3;

export function consumerDeps(env: Env): ConsumerDeps {
  const config = readConfig(env);
  return {
    // A queue batch's claims and records share D1 round trips (src/storage/batch-window.ts).
    // Its messages are claimed together; records wait up to 3 ms for the forwards that
    // finish with theirs (measured: 0.58 D1 round trips per event with no wait, 0.43 so).
    deliveries: new DeliveriesRepo(env.DB, {
      claims: batchWindow(env.DB),
      records: batchWindow(env.DB, RECORD_WINDOW_MS),
    }),
    bodies: env.BODIES,
    config,
    // One set per batch (one invocation): Workers open six connections at once.
    forwardSlots: slots(6),
    circuits: {
      circuits: new CircuitsRepo(env.DB),
      queue: env.EVENTS_QUEUE,
      settings: {
        failures: config.CIRCUIT_FAILURES,
        openMs: config.CIRCUIT_OPEN_SECONDS * 1000,
        maxOpenMs: config.CIRCUIT_MAX_OPEN_SECONDS * 1000,
      },
      probeMs: deliveryTimings(config).leaseMs,
      now: Date.now,
    },
    fetcher: (input, init) => fetch(input, init),
    now: Date.now,
    random: Math.random,
  };
}

export function feedbackDeps(env: Env): FeedbackDeps {
  return {
    repo: new FeedbackRepo(env.DB),
    config: readConfig(env),
    fetcher: (input, init) => fetch(input, init),
    now: Date.now,
    random: Math.random,
  };
}

export function connectDeps(env: Env, r: Repos, forgetTokens: () => void): ConnectDeps {
  const config = readConfig(env);
  return {
    repos: r,
    encryptionKey: config.ENCRYPTION_KEY,
    tokenCheckKey: config.TOKEN_CHECK_KEY,
    fetcher: (input, init) => fetch(input, init),
    now: Date.now,
    forgetTokens,
  };
}
