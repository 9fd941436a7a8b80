/** Hono typing shared by every route: the generated bindings and per-request variables. */
import type { CircuitsRepo } from "./storage/circuits-repo";
import type { ConnectionsRepo } from "./storage/connections-repo";
import type { DeliveriesRepo } from "./storage/deliveries-repo";
import type { FeedbackRepo } from "./storage/feedback-repo";
import type { InboxRepo } from "./storage/inbox-repo";
import type { InstancesRepo } from "./storage/instances-repo";
import type { OverviewRepo } from "./storage/overview-repo";
import type { ProjectsRepo } from "./storage/projects-repo";
import type { SealedSecretsRepo } from "./storage/sealed-secrets-repo";
import type { StatsRepo } from "./storage/stats-repo";

/** The D1 repositories, built once per request or batch by the composition root (deps.ts). */
export type Repos = {
  circuits: CircuitsRepo;
  connections: ConnectionsRepo;
  deliveries: DeliveriesRepo;
  feedback: FeedbackRepo;
  inbox: InboxRepo;
  instances: InstancesRepo;
  overview: OverviewRepo;
  projects: ProjectsRepo;
  sealedSecrets: SealedSecretsRepo;
  stats: StatsRepo;
};

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    repos: Repos;
    /** Drops this isolate's cached token answers after tokens change (ingress/authenticate). */
    forgetTokens: () => void;
    /** Fields a route adds to the one log line of its request (never a secret). */
    logFields?: Record<string, string | number | null>;
  };
};
